"""Issue 9 items 10 and 12, against ``lapor serve`` (the real uvicorn, as ``serve`` configures it)
over raw sockets and real HTTP.

Item 10, the attack: a forged ``X-Forwarded-For`` from 127.0.0.1 gave each request a fresh rate
limit bucket, because uvicorn trusts 127.0.0.1 by default. Now only ``LAPOR_TRUSTED_PROXIES`` are
believed: from 127.0.0.1 (not listed) the header changes nothing; from 127.0.0.2 (listed) it names
the client.

Item 12, the attack: slow headers and slow bodies were held open for ever, and 1 MiB of headers
was accepted. Now: headers must arrive within ``LAPOR_HEADER_TIMEOUT`` (408, closed), be at most
``LAPOR_MAX_HEADER_BYTES`` (431, closed); a body must arrive within ``LAPOR_BODY_TIMEOUT`` (408,
closed); a body nobody reads is not waited for; idle keep-alive connections close after
``LAPOR_KEEP_ALIVE_TIMEOUT``; past ``LAPOR_MAX_CONNECTIONS`` a worker answers 503.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time

import httpx
import pytest

from tests.conftest import BASE_DOMAIN, unique_slug
from tests.live_server import lapor_serve, read_response, server_env

PROXY = "127.0.0.2"
MAX_CONNECTIONS = 30


@pytest.fixture(scope="module")
async def slugs(provisioner, province) -> dict[str, str]:
    from lapor.tenants.validation import TenantSpec

    made = {}
    for role in ("forged", "proxied", "bodies"):
        tenant = await provisioner.create(
            TenantSpec(unique_slug(role), "Kabupaten Uji", "REGENCY", parent=province.slug)
        )
        made[role] = tenant.slug
    return made


@pytest.fixture(scope="module")
def server(database_url, slugs, tmp_path_factory):
    env = server_env(
        database_url,
        LAPOR_RATE_LIMIT_PUBLIC="3",
        LAPOR_RATE_LIMIT_IP="0",
        LAPOR_TRUSTED_PROXIES=PROXY,
        LAPOR_HEADER_TIMEOUT="1",
        LAPOR_BODY_TIMEOUT="1",
        LAPOR_KEEP_ALIVE_TIMEOUT="1",
        LAPOR_MAX_HEADER_BYTES="16384",
        LAPOR_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    with lapor_serve(env, tmp_path_factory.mktemp("serve") / "serve.log") as served:
        yield served


def _host(slug: str) -> str:
    return f"{slug}.{BASE_DOMAIN}"


def _status(raw: bytes) -> int | None:
    if not raw.startswith(b"HTTP/1.1 "):
        return None
    return int(raw.split(b" ", 2)[1])


def _tenant_queries(server, slug: str, forwarded: list[str], local_address: str | None = None) -> list[int]:
    """One ``{ tenant { slug } }`` per X-Forwarded-For value; the statuses in order."""
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    with httpx.Client(base_url=server.base, transport=transport, timeout=10) as client:
        statuses = []
        for address in forwarded:
            response = client.post(
                "/graphql",
                json={"query": "{ tenant { slug } }"},
                headers={"host": _host(slug), "x-forwarded-for": address},
            )
            statuses.append(response.status_code)
        return statuses


# --- item 10 ---------------------------------------------------------------------------------------


def test_forged_forwarded_for_from_localhost_does_not_change_the_bucket(server, slugs) -> None:
    """3 points a minute per IP: a fresh forged address on each request still runs out."""
    statuses = _tenant_queries(server, slugs["forged"], [f"203.0.113.{i}" for i in range(1, 9)])
    assert 429 in statuses, f"every forged X-Forwarded-For got a bucket of its own: {statuses}"
    first_refusal = statuses.index(429)
    assert first_refusal <= 3 and set(statuses[:first_refusal]) == {200}, statuses


def test_a_listed_proxy_s_forwarded_for_names_the_client(server, slugs) -> None:
    """From 127.0.0.2 (``LAPOR_TRUSTED_PROXIES``): each client address has its own bucket, and
    one client behind the proxy still runs out of its own."""
    distinct = _tenant_queries(server, slugs["proxied"], [f"198.51.100.{i}" for i in range(1, 9)], PROXY)
    assert distinct == [200] * 8, f"the proxy's clients share one bucket: {distinct}"
    same = _tenant_queries(server, slugs["proxied"], ["198.51.100.77"] * 6, PROXY)
    assert 429 in same and same.index(429) <= 3, same


# --- item 12 ---------------------------------------------------------------------------------------


def _dribble(sock: socket.socket, start: bytes, byte: bytes, seconds: float) -> tuple[bytes, bool, float]:
    """Send ``start``, then one ``byte`` every 0.2 s for ``seconds``, reading all the while; what
    came back, whether the server closed, and when (seconds after ``start``)."""
    began = time.monotonic()
    sock.sendall(start)
    received = b""
    sock.settimeout(0.2)
    while time.monotonic() - began < seconds:
        try:
            chunk = sock.recv(65536)
            if not chunk:
                return received, True, time.monotonic() - began
            received += chunk
        except TimeoutError:
            try:
                sock.sendall(byte)
            except (BrokenPipeError, ConnectionResetError):
                return received, True, time.monotonic() - began
        except ConnectionResetError:
            return received, True, time.monotonic() - began
    return received, False, time.monotonic() - began


def test_slow_headers_get_408_and_the_connection_closes(server) -> None:
    with server.connect() as sock:
        received, closed, after = _dribble(sock, b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: ", b"a", 6)
    assert _status(received) == 408, received
    assert closed and after < 4, f"closed={closed} after {after:.1f} s"
    with server.connect() as sock:  # the second request of a kept-alive connection, as slow
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        first = b""
        while b'{"status":"ok"}' not in first:  # the whole first answer
            chunk = sock.recv(65536)
            assert chunk, first
            first += chunk
        assert _status(first) == 200, first
        received, closed, after = _dribble(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: ", b"a", 6)
    assert _status(received) == 408, received
    assert closed and after < 4, f"closed={closed} after {after:.1f} s"


def test_a_silent_connection_is_closed(server) -> None:
    with server.connect() as sock:
        received, closed = read_response(sock, 4)
    assert closed, "a connection that never sent a byte was kept open"
    assert received == b"" or _status(received) == 408, received


def test_one_mebibyte_of_headers_is_refused_with_431(server) -> None:
    with server.connect() as sock:  # 8 KiB of cookies is fine
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nCookie: " + b"c" * 8192 + b"\r\n\r\n")
        received, _closed = read_response(sock, 1)
    assert _status(received) == 200, received[:200]
    with server.connect() as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before the whole MiB
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * (1 << 20) + b"\r\n\r\n")
        received, closed = read_response(sock, 3)
    assert _status(received) == 431, received[:200]
    assert closed


def test_a_slow_body_gets_408_and_the_connection_closes(server, slugs) -> None:
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: {_host(slugs['bodies'])}\r\n"
        "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
    ).encode()
    with server.connect() as sock:
        received, closed, after = _dribble(sock, head, b" ", 6)
    assert _status(received) == 408, received
    body = json.loads(received.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "REQUEST_TIMEOUT" and "(The request body" in body["error"]["message"]
    assert closed and after < 4, f"closed={closed} after {after:.1f} s"


def test_a_body_nobody_reads_is_not_waited_for(server) -> None:
    """An unknown host is answered 404 before its body is read; the client dribbling the rest
    does not keep the connection."""
    head = b"POST /graphql HTTP/1.1\r\nHost: niemand.example\r\nContent-Length: 100000\r\n\r\n"
    with server.connect() as sock:
        received, closed, after = _dribble(sock, head, b"x", 6)
    assert _status(received) == 404, received
    assert closed and after < 3, f"closed={closed} after {after:.1f} s"


def test_an_idle_keep_alive_connection_closes_after_its_timeout(server, slugs) -> None:
    """An idle keep-alive connection closes after 1 s; a websocket is no idle request and is not
    cut by the header or keep-alive deadline."""
    from websockets.sync.client import connect

    url = f"ws://{_host(slugs['bodies'])}:{server.port}/graphql"  # the Host header; the socket is ours
    with connect(url, sock=server.connect(), subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        with server.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            began = time.monotonic()
            received, closed = read_response(sock, 4)
            after = time.monotonic() - began
        assert _status(received) == 200, received
        assert closed and after < 3.5, f"closed={closed} after {after:.1f} s (uvicorn's default is 5 s)"
        ws.send(json.dumps({"type": "ping"}))  # 4 s later, past both deadlines: still open
        assert json.loads(ws.recv(timeout=5))["type"] == "pong"


def test_past_the_connection_cap_a_worker_answers_503(server) -> None:
    idle = [server.connect() for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)  # the server has accepted them
        with server.connect() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
            received, _closed = read_response(sock, 0.5)
        assert _status(received) == 503, received
    finally:
        for sock in idle:
            sock.close()
