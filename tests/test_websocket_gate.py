"""The websocket gate (issue 9 item 6), the Ombudsman's audited subscriptions (item 14) and the
access log (item 9), against real uvicorn processes on real PostgreSQL and Redis.

The review, over ``graphql-transport-ws`` without a token: 400 queries in 0.2 s, 20 ten-alias
``submitComplaint`` mutations filing 200 complaints, 30-alias introspections, 30 connections x
100 subscriptions from one IP, none of it charged; a subscription outlived its token. Each test
below does that again and checks it is refused. Every websocket here comes from a loopback
address of this module's own (127.x.y.z), so the per-IP connection count (a Redis key per
address) is not shared with other tests running at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from joserfc import jwt
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from lapor.auth.accounts import create_client
from lapor.auth.keys import ALGORITHM, SigningKeys
from lapor.auth.roles import Role
from lapor.platform.keys import platform_key
from lapor.platform.secrets import load_secrets
from lapor.settings import Settings
from lapor.tenants.context import tenant_transaction
from lapor.tenants.tables import audit_event
from tests.apps import running_app
from tests.conftest import BASE_DOMAIN, _free_port
from tests.oauth_helpers import user_token
from tests.test_subscriptions import EVENTS, SUBMIT, Server, Subscriber, _wait_ready

LIMITS = {
    "LAPOR_WS_CONNECTIONS_PER_IP": "3",
    "LAPOR_WS_CONNECTIONS_PER_TOKEN": "2",
    "LAPOR_WS_SUBSCRIPTIONS_PER_CONNECTION": "3",
    "LAPOR_WS_AUTH_RECHECK": "0.5",
    "LAPOR_RATE_LIMIT_CLIENT": "4",
}
COMPLAINT = {
    "title": "Lampu jalan mati",
    "body": "Lampu jalan di Jl. Timor Raya mati sejak seminggu, gelap sekali malam hari.",
    "categoryCode": "INFRASTRUKTUR",
    "reporter": {"name": "Pelapor Uji", "phone": "+6281355556666"},
}


def _loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@contextlib.contextmanager
def _serving(settings: Settings, redis_url: str, env_extra: dict[str, str], log_level: str) -> Iterator[Server]:
    """``uvicorn --factory lapor.platform.app:app_from_env`` as production runs it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    assert settings.database_url is not None
    env.update(
        LAPOR_DATABASE_URL=settings.database_url,
        LAPOR_BASE_DOMAIN=BASE_DOMAIN,
        LAPOR_DATA_DIR=str(Path(settings.data_dir).resolve()),
        LAPOR_LOG_LEVEL="WARNING",
        LAPOR_REDIS_URL=redis_url,
        **env_extra,
    )
    with tempfile.TemporaryDirectory(prefix="lapor-wsgate-") as workdir:
        log = Path(workdir) / "uvicorn.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "lapor.platform.app:app_from_env",
                 "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        server = Server(port, process, log)
        try:
            _wait_ready(server, time.monotonic() + 60)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            text = log.read_text()
            bugs = ("unexpected error in GraphQL", "Exception in worker task", "Exception in ASGI application",
                    "websocket watch failed", "Traceback")  # fmt: skip
            assert not any(bug in text for bug in bugs), text


@pytest.fixture(scope="module")
def gate_server(settings: Settings, redis_url: str, db) -> Iterator[Server]:
    with _serving(settings, redis_url, LIMITS, "warning") as server:
        yield server


@pytest.fixture
async def minting(settings: Settings, redis_url: str):
    """An in-process app on the same database and Redis: tokens, and revocations every process sees."""
    async with running_app(replace(settings, redis_url=redis_url)) as (app, client):
        yield app, client


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@contextlib.asynccontextmanager
async def socket(
    server: Server, slug: str, ip: str, token: str | None = None, *, protocol: str = "graphql-transport-ws"
) -> AsyncIterator[Subscriber]:
    """A websocket from ``ip`` with the token in ``connection_init`` (what browsers must do)."""
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    async with connect(
        f"ws://{slug}.{BASE_DOMAIN}:{server.port}/graphql",
        host="127.0.0.1",
        port=server.port,
        local_addr=(ip, 0),
        subprotocols=[protocol],  # type: ignore[list-item]
        open_timeout=10,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        yield Subscriber(ws, protocol)


async def refused_codes(sub: Subscriber, op_id: str) -> list[str]:
    message = await sub.receive()
    assert message["type"] == "error" and message["id"] == op_id, message
    payload = message["payload"] if isinstance(message["payload"], list) else [message["payload"]]
    return [error["extensions"]["code"] for error in payload]


async def _until_no_connections(redis: Redis, ip: str) -> None:
    """The server gives a place back when the handler ends, just after the client's close."""
    deadline = time.monotonic() + 10
    key = platform_key("ws", "ip", ip)
    while await redis.zcard(key):
        assert time.monotonic() < deadline, "connections still counted"
        await asyncio.sleep(0.05)


async def _client_token(db, app, slug: str, scopes: str = "complaints:read") -> tuple[str, str, str]:
    """A fresh client's (id, secret, access token) from the real ``/oauth/token``."""
    registered, secret = await create_client(
        db, name=f"Klien ws {uuid.uuid4().hex[:6]}", scopes=frozenset(scopes.split()), tenant_slug=slug
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{slug}.{BASE_DOMAIN}") as client:
        answer = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials", "scope": scopes},
            auth=(registered.client_id, secret),
        )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return registered.client_id, secret, answer.json()["access_token"]


async def _count(db, tenant, table: str) -> int:
    async with tenant_transaction(db, tenant) as conn:
        return await conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))


# --- only subscriptions, each charged -----------------------------------------------------------


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_queries_and_mutations_over_the_websocket_are_refused(
    gate_server, make_regency, db, redis, protocol
) -> None:
    """Without a token: a query, a 30-alias introspection and a 10-alias submitComplaint over
    the websocket. Each is refused with SUBSCRIPTIONS_ONLY and no complaint is filed."""
    tenant = await make_regency()
    ip = _loopback()
    ten = "mutation($i: SubmitComplaintInput!) {" + " ".join(
        f"s{i}: submitComplaint(input: $i) {{ trackingId }}" for i in range(10)
    ) + "}"
    introspections = "{" + " ".join(f"a{i}: __schema {{ types {{ name fields {{ name }} }} }}" for i in range(30)) + "}"
    async with socket(gate_server, tenant.slug, ip, protocol=protocol) as sub:
        for op_id, query, variables in (("q", "{ tenant { slug } }", {}), ("i", introspections, {}),
                                        ("m", ten, {"i": COMPLAINT})):  # fmt: skip
            await sub.subscribe(op_id, query, **variables)
            assert await refused_codes(sub, op_id) == ["SUBSCRIPTIONS_ONLY"]
    assert await _count(db, tenant, "complaint") == 0
    await _until_no_connections(redis, ip)


async def test_each_subscription_is_charged_like_a_query(gate_server, minting, db, make_regency, redis) -> None:
    """The client's bucket holds 4 points here: four subscriptions spend them (across two
    connections), the fifth is RATE_LIMITED with retryAfter, as the same document over HTTP."""
    tenant = await make_regency()
    app, _client = minting
    client_id, _secret, token = await _client_token(db, app, tenant.slug)
    ip = _loopback()
    async with socket(gate_server, tenant.slug, ip, token) as first, socket(gate_server, tenant.slug, ip, token) as second:
        for op_id in ("1", "2"):
            await first.subscribe(op_id)
            await second.subscribe(op_id)
        key = f"lapor:t:{tenant.slug}:rate:client:{client_id}"
        deadline = time.monotonic() + 10
        while int(await redis.get(key) or 0) < 4:  # one point per subscription, in the client's bucket
            assert time.monotonic() < deadline, await redis.get(key)
            await asyncio.sleep(0.02)
        await second.subscribe("3")
        message = await second.receive()
        assert message["type"] == "error" and message["id"] == "3", message
        (error,) = message["payload"]
        assert error["extensions"]["code"] == "RATE_LIMITED" and error["extensions"]["retryAfter"] >= 1
    await _until_no_connections(redis, ip)


async def test_subscriptions_per_connection_are_capped(gate_server, minting, db, make_regency, redis) -> None:
    tenant = await make_regency()
    app, _client = minting
    _id, _secret, token = await _client_token(db, app, tenant.slug)
    ip = _loopback()
    channel = f"lapor:t:{tenant.slug}:complaint-events"
    async with socket(gate_server, tenant.slug, ip) as anonymous:
        # Refused ones (no token) end at once and hold no place.
        for op_id in ("a", "b", "c", "d"):
            await anonymous.subscribe(op_id)
            assert await refused_codes(anonymous, op_id) == ["UNAUTHENTICATED"]
    async with socket(gate_server, tenant.slug, ip, token) as sub:
        for op_id in ("1", "2", "3"):
            await sub.subscribe(op_id)
        deadline = time.monotonic() + 10
        while dict(await redis.pubsub_numsub(channel))[channel.encode()] != 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await sub.subscribe("4")
        assert await refused_codes(sub, "4") == ["TOO_MANY_SUBSCRIPTIONS"]
        await sub.stop("1")
        await sub.subscribe("5")  # the place "1" gave back (messages are handled in order)
        await sub.subscribe("6")
        assert await refused_codes(sub, "6") == ["TOO_MANY_SUBSCRIPTIONS"], "2, 3 and 5 run"
    await _until_no_connections(redis, ip)


# --- connections per IP and per token ------------------------------------------------------------


async def test_connections_per_ip_are_capped_across_the_handshake(gate_server, make_regency, redis) -> None:
    """Three sockets from one address are open; the fourth handshake answers HTTP 429 with a
    coded body instead of the upgrade. Closing one frees its place."""
    tenant = await make_regency()
    ip = _loopback()
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(3):
            await stack.enter_async_context(socket(gate_server, tenant.slug, ip))
        with pytest.raises(InvalidStatus) as refused:
            await stack.enter_async_context(socket(gate_server, tenant.slug, ip))
        response = refused.value.response
        assert response.status_code == 429
        assert json.loads(response.body)["errors"][0]["extensions"]["code"] == "TOO_MANY_CONNECTIONS"
        async with socket(gate_server, tenant.slug, _loopback()):  # another address is not affected
            pass
    await _until_no_connections(redis, ip)
    async with socket(gate_server, tenant.slug, ip):
        pass
    await _until_no_connections(redis, ip)


async def test_connections_per_token_are_capped(gate_server, minting, db, make_regency, redis) -> None:
    tenant = await make_regency()
    app, _client = minting
    _id, _secret, token = await _client_token(db, app, tenant.slug)
    ip_a, ip_b, ip_c = _loopback(), _loopback(), _loopback()
    third = connect(
        f"ws://{tenant.slug}.{BASE_DOMAIN}:{gate_server.port}/graphql", host="127.0.0.1",
        port=gate_server.port, local_addr=(ip_c, 0), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
    )  # fmt: skip
    async with socket(gate_server, tenant.slug, ip_a, token), socket(gate_server, tenant.slug, ip_b, token), third as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
    for ip in (ip_a, ip_b, ip_c):
        await _until_no_connections(redis, ip)


# --- a subscription ends with its token ---------------------------------------------------------


async def _short_lived(db, settings: Settings, token: str, seconds: float) -> str:
    """The same token, signed by the platform's own key, expiring in ``seconds``."""
    keys = SigningKeys(db, load_secrets(settings))
    await keys.ensure()
    claims = dict(jwt.decode(token, keys.verifying_snapshot()).claims)
    claims["exp"] = int(time.time() + seconds)
    key = keys.signing_keyset().keys[0]
    return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, claims, key)


async def _ended(sub: Subscriber, op_id: str, within: float) -> tuple[list[str], int]:
    """The error that ended ``op_id``, and the close code that followed."""
    message = await sub.receive(wait=within)
    assert message["type"] == "error" and message["id"] == op_id, message
    codes = [error["extensions"]["code"] for error in message["payload"]]
    with pytest.raises(ConnectionClosed) as closed:
        await sub.receive(wait=5)
    return codes, closed.value.rcvd.code if closed.value.rcvd else 0


async def test_a_subscription_ends_when_its_token_expires(
    gate_server, minting, db, settings, make_regency, redis
) -> None:
    tenant = await make_regency()
    app, _client = minting
    _id, _secret, token = await _client_token(db, app, tenant.slug)
    short = await _short_lived(db, settings, token, 2.5)
    ip = _loopback()
    async with socket(gate_server, tenant.slug, ip, short) as sub:
        await sub.subscribe("1")
        started = time.monotonic()
        codes, close = await _ended(sub, "1", within=8)
        assert codes == ["UNAUTHENTICATED"] and close == 4401
        assert time.monotonic() - started < 6
    await _until_no_connections(redis, ip)


async def test_a_subscription_ends_when_its_token_is_revoked(gate_server, minting, db, make_regency, redis) -> None:
    tenant = await make_regency()
    app, _client = minting
    client_id, secret, token = await _client_token(db, app, tenant.slug)
    ip = _loopback()
    async with socket(gate_server, tenant.slug, ip, token) as sub:
        await sub.subscribe("1")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{tenant.slug}.{BASE_DOMAIN}"
        ) as http:
            revoked = await http.post("/oauth/revoke", data={"token": token}, auth=(client_id, secret))
        assert revoked.status_code == 200, revoked.text
        codes, close = await _ended(sub, "1", within=5)
        assert codes == ["UNAUTHENTICATED"] and close == 4401
    await _until_no_connections(redis, ip)


# --- item 14: the Ombudsman's subscriptions are audited ------------------------------------------


async def _audits(db, tenant, action: str) -> list[Any]:
    async with tenant_transaction(db, tenant) as conn:
        return list(
            await conn.execute(sa.select(audit_event).where(audit_event.c.action == action).order_by(audit_event.c.id))
        )


async def test_the_ombudsmans_subscription_and_each_event_it_gets_are_audited(
    gate_server, minting, db, make_regency, national, redis
) -> None:
    tenant = await make_regency()
    app, client = minting
    ombudsman = await user_token(
        db, app, client, host=BASE_DOMAIN, tenant=national.slug, role=Role.OMBUDSMAN, national=True,
        scopes="national:read stats:read complaints:read",
    )  # fmt: skip
    channel = f"lapor:t:{tenant.slug}:complaint-events"
    ip = _loopback()
    async with socket(gate_server, tenant.slug, ip, ombudsman) as sub:
        await sub.subscribe("1", EVENTS)
        deadline = time.monotonic() + 10
        while dict(await redis.pubsub_numsub(channel))[channel.encode()] != 1:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gate_server.port}") as http:
            answer = await http.post(
                "/graphql", json={"query": SUBMIT, "variables": {"i": COMPLAINT}},
                headers={"host": f"{tenant.slug}.{BASE_DOMAIN}"},
            )  # fmt: skip
        tracking_id = answer.json()["data"]["submitComplaint"]["trackingId"]
        event = await sub.event("1")
        assert event["trackingId"] == tracking_id
    subscribed = await _audits(db, tenant, "complaint_events.subscribe")
    delivered = await _audits(db, tenant, "complaint_event.read")
    assert len(subscribed) == 1 and len(delivered) == 1
    assert delivered[0].details["tracking_id"] == tracking_id
    assert subscribed[0].details["subject"] and subscribed[0].actor
    await _until_no_connections(redis, ip)


# --- item 9: query strings never reach the access log -------------------------------------------


def test_access_codes_never_reach_the_access_log(settings: Settings, redis_url: str, db, national) -> None:
    """``trackComplaint`` sent with GET wrote the access code into uvicorn's access log. Now the
    request is refused (POST only) and the logged line keeps the path without its query."""
    with _serving(settings, redis_url, {}, "info") as server:
        secret = "QWER-TYUI-OPAS"
        query = f'{{ trackComplaint(trackingId: "KAB-2611-000001", accessCode: "{secret}") {{ status }} }}'
        answer = httpx.get(
            f"http://127.0.0.1:{server.port}/graphql", params={"query": query},
            headers={"host": BASE_DOMAIN}, timeout=10,
        )  # fmt: skip
        assert answer.status_code == 400 and answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        also = httpx.get(
            f"http://127.0.0.1:{server.port}/healthz", params={"token": secret}, timeout=10
        )
        assert also.status_code == 200
        deadline = time.monotonic() + 5
        while "/healthz" not in server.log.read_text():
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.05)
        log = server.log.read_text()
        assert '"GET /graphql?<redacted> HTTP/1.1" 400' in log, log
        assert secret not in log, log


# --- item 16: GraphiQL works in a real browser under its own CSP ----------------------------------


def test_graphiql_renders_in_a_browser_under_its_csp(settings: Settings, redis_url: str, db, national) -> None:
    """Headless Chromium loads GraphiQL from a real server: the editor renders, the schema is
    introspected (a POST to /graphql), and the browser reports no Content Security Policy
    violation, so every script, style and request it needs comes from the host itself."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is a development requirement (Debian package chromium)")
        pytest.skip("no chromium")
    with _serving(settings, redis_url, {}, "info") as server:
        run = subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * 127.0.0.1",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom",
             f"http://{BASE_DOMAIN}:{server.port}/graphql"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        log = server.log.read_text()
    assert "graphiql-query-editor" in run.stdout and "CodeMirror" in run.stdout, run.stdout[:2000]
    assert "Memuat GraphiQL" not in run.stdout, "the page's script never ran"
    violations = [line for line in run.stderr.splitlines() if "Content Security Policy" in line]
    assert not violations, violations
    assert '"POST /graphql HTTP/1.1" 200' in log, "GraphiQL introspected the schema"
    assert "unpkg" not in log
