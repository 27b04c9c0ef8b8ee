"""``complaintEvents``: real uvicorn processes, real websockets, real Redis between them.

Two API processes share the test database and one Redis: a subscriber on one hears a change made
through the other. A third process runs without Redis (the in-process bus). Whether a process
has subscribed is read from Redis itself (``PUBSUB NUMSUB``), never guessed with a sleep; the
same count going back to zero shows that a subscriber who leaves leaves no handler behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from lapor.auth.roles import Role
from lapor.platform.bus import InProcessBus, RedisBus, make_bus
from lapor.platform.errors import DomainError
from lapor.schema.common import global_id
from lapor.schema.events.resolvers import EventFeed, visible
from lapor.settings import Settings
from lapor.tenants.complaints.events import ComplaintChange, events_channel
from tests.apps import running_app
from tests.complaint_helpers import a_unit
from tests.conftest import BASE_DOMAIN, _free_port
from tests.oauth_helpers import machine_token, user_token

EVENTS = (
    "subscription($t: String) { complaintEvents(trackingId: $t) { trackingId status action version at } }"
)
SUBMIT = "mutation($i: SubmitComplaintInput!) { submitComplaint(input: $i) { trackingId errors { code } } }"
VERIFY = "mutation($t: String!) { verifyComplaint(input: {trackingId: $t}) { errors { code } } }"
ASSIGN = "mutation($t: String!, $u: ID!) { assignComplaint(input: {trackingId: $t, unitId: $u}) { errors { code } } }"
TRIAGE = "complaints:read complaints:triage"


# --- API processes ----------------------------------------------------------------------------


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=10)


def _start(settings: Settings, redis_url: str | None, workdir: Path) -> Server:
    """``uvicorn --factory lapor.platform.app:app_from_env`` as production runs it, configured
    like the test settings: same database, base domain (so the same token issuer) and secrets."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    assert settings.database_url is not None
    env.update(
        LAPOR_DATABASE_URL=settings.database_url,
        LAPOR_BASE_DOMAIN=BASE_DOMAIN,
        LAPOR_DATA_DIR=str(Path(settings.data_dir).resolve()),
        LAPOR_LOG_LEVEL="WARNING",
    )
    if settings.secret_key:
        env["LAPOR_SECRET_KEY"] = settings.secret_key
    if redis_url:
        env["LAPOR_REDIS_URL"] = redis_url
    log = workdir / f"uvicorn-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "lapor.platform.app:app_from_env",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return Server(port, process, log)


def _wait_ready(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"API process exited early:\n{server.log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{server.port}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"API process not ready in time:\n{server.log.read_text()}")


@contextlib.contextmanager
def _serving(settings: Settings, redis_urls: list[str | None]) -> Iterator[list[Server]]:
    with tempfile.TemporaryDirectory(prefix="lapor-subs-") as workdir:
        servers = [_start(settings, url, Path(workdir)) for url in redis_urls]
        try:
            deadline = time.monotonic() + 60
            for server in servers:
                _wait_ready(server, deadline)
            yield servers
        finally:
            for server in servers:
                server.process.terminate()
            for server in servers:
                try:
                    server.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.process.kill()
                    server.process.wait()
            # (strawberry logs every GraphQL error, FORBIDDEN included, with its traceback: not a bug.)
            bugs = ("unexpected error in GraphQL", "Exception in worker task", "bus handler failed",
                    "change listener failed", "Exception in ASGI application")  # fmt: skip
            logs = [s.log.read_text() for s in servers]
            assert not [log for log in logs if any(bug in log for bug in bugs)], "\n\n".join(logs)


@pytest.fixture(scope="module")
def redis_pair(settings: Settings, redis_url: str, db) -> Iterator[list[Server]]:
    """Two API processes on one Redis (``db`` first: the public schema must exist)."""
    with _serving(settings, [redis_url, redis_url]) as servers:
        yield servers


@pytest.fixture(scope="module")
def lone_server(settings: Settings, db) -> Iterator[Server]:
    """One API process without Redis: its bus is the in-process stand-in."""
    with _serving(settings, [None]) as servers:
        yield servers[0]


@pytest.fixture
async def minting(settings: Settings):
    """An in-process app, only to get tokens from ``/oauth/token`` (any process verifies them:
    the signing keys live in the shared database)."""
    async with running_app(settings) as (app, client):
        yield app, client


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def _subscribers(redis: Redis, channel: str) -> int:
    return dict(await redis.pubsub_numsub(channel))[channel.encode()]


async def _until_subscribers(redis: Redis, channel: str, wanted: int) -> None:
    """Wait until ``wanted`` processes listen on ``channel`` (each process subscribes once)."""
    deadline = time.monotonic() + 10
    while (count := await _subscribers(redis, channel)) != wanted:
        assert time.monotonic() < deadline, f"{count} subscribers on {channel}, expected {wanted}"
        await asyncio.sleep(0.02)


# --- a minimal graphql-ws client ---------------------------------------------------------------


class Subscriber:
    """One websocket on a tenant host, speaking graphql-transport-ws or the older graphql-ws."""

    def __init__(self, ws: ClientConnection, protocol: str) -> None:
        self.ws = ws
        self.legacy = protocol == "graphql-ws"

    async def subscribe(self, op_id: str, query: str = EVENTS, **variables: Any) -> None:
        kind = "start" if self.legacy else "subscribe"
        await self.ws.send(
            json.dumps({"id": op_id, "type": kind, "payload": {"query": query, "variables": variables}})
        )

    async def stop(self, op_id: str) -> None:
        await self.ws.send(json.dumps({"id": op_id, "type": "stop" if self.legacy else "complete"}))

    async def receive(self, wait: float = 10) -> dict[str, Any]:
        """The next message about an operation (keep-alives and pings answered or skipped)."""
        async with asyncio.timeout(wait):
            while True:
                message = json.loads(await self.ws.recv())
                if message["type"] == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                elif message["type"] not in ("ka", "pong"):
                    return message

    async def event(self, op_id: str = "1", wait: float = 10) -> dict[str, Any]:
        message = await self.receive(wait)
        assert message["type"] in ("next", "data") and message["id"] == op_id, message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]["complaintEvents"]

    async def error_codes(self, op_id: str = "1") -> list[str]:
        """Codes of an operation refused before or as it started (``error`` or ``next`` with errors)."""
        message = await self.receive()
        assert message.get("id") == op_id, message
        errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
        assert isinstance(errors, list) and errors, message
        assert "Traceback" not in json.dumps(message)
        return [error["extensions"]["code"] for error in errors]


@contextlib.asynccontextmanager
async def subscriber(
    server: Server,
    slug: str,
    token: str | None = None,
    *,
    token_in: str = "payload",
    protocol: str = "graphql-transport-ws",
) -> AsyncIterator[Subscriber]:
    """Connect to ``/graphql`` of ``slug``'s host; the token in ``connection_init`` (what browsers
    must do) or in the handshake's ``Authorization`` header."""
    headers = {"Authorization": f"Bearer {token}"} if token and token_in == "header" else {}
    payload = {"Authorization": f"Bearer {token}"} if token and token_in == "payload" else {}
    async with connect(
        f"ws://{slug}.{BASE_DOMAIN}:{server.port}/graphql",
        host="127.0.0.1",
        port=server.port,
        subprotocols=[protocol],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=10,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        yield Subscriber(ws, protocol)


# --- HTTP side ---------------------------------------------------------------------------------


async def _post(server: Server, slug: str, query: str, token: str | None = None, **variables: Any) -> dict:
    headers = {"host": f"{slug}.{BASE_DOMAIN}"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    async with server.http() as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    payload = next(iter(body["data"].values()))
    assert payload["errors"] == [], payload
    return payload


async def _submit(server: Server, slug: str) -> str:
    complaint = {
        "title": "Air PDAM tidak mengalir",
        "body": "Sudah tiga hari air tidak mengalir di RT 04 Kelurahan Oebobo.",
        "categoryCode": "INFRASTRUKTUR",
        "reporter": {"name": "Pelapor Rahasia", "phone": "+6281399990000"},
    }
    return (await _post(server, slug, SUBMIT, i=complaint))["trackingId"]


# --- tests: across processes -------------------------------------------------------------------


async def test_an_event_made_on_one_process_reaches_a_subscriber_on_another(
    redis_pair, minting, db, make_regency, redis
) -> None:
    a, b = redis_pair
    tenant = await make_regency()
    app, _client = minting
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    reader = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:read")
    triage = await machine_token(db, app, host, tenant=tenant.slug, scopes=TRIAGE)
    channel = events_channel(tenant.slug)

    async with subscriber(a, tenant.slug, reader) as sub:
        await sub.subscribe("1")
        await _until_subscribers(redis, channel, 1)
        started = time.monotonic()
        tracking_id = await _submit(b, tenant.slug)
        submitted = await sub.event(wait=5)
        await _post(b, tenant.slug, VERIFY, triage, t=tracking_id)
        verified = await sub.event(wait=5)
        assert time.monotonic() - started < 5

    assert submitted["trackingId"] == tracking_id
    assert (submitted["action"], submitted["status"], submitted["version"]) == ("SUBMIT", "SUBMITTED", 1)
    assert (verified["action"], verified["status"], verified["version"]) == ("VERIFY", "VERIFIED", 2)
    assert dt.datetime.fromisoformat(verified["at"]) >= dt.datetime.fromisoformat(submitted["at"])
    assert set(submitted) == {"trackingId", "status", "action", "version", "at"}
    # The client left: its process dropped the handler and told Redis.
    await _until_subscribers(redis, channel, 0)


async def test_the_bus_message_carries_no_personal_data(redis_pair, make_regency, redis) -> None:
    _a, b = redis_pair
    tenant = await make_regency()
    channel = events_channel(tenant.slug)
    assert channel == f"lapor:t:{tenant.slug}:complaint-events"
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
        tracking_id = await _submit(b, tenant.slug)
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    data = json.loads(message["data"])
    assert set(data) == {"trackingId", "status", "action", "version", "unitId", "at"}
    assert data["trackingId"] == tracking_id and data["unitId"] is None
    text = message["data"].decode()
    for planted in ("Pelapor Rahasia", "+6281399990000", "81399990000", "Air PDAM tidak mengalir"):
        assert planted not in text, f"{planted!r} on the bus: {text}"


async def test_unit_officers_and_tracking_filters_see_only_their_complaints(
    redis_pair, minting, db, make_regency, redis
) -> None:
    a, b = redis_pair
    tenant = await make_regency()
    app, client = minting
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    ours, theirs = await a_unit(db, tenant, "DLH"), await a_unit(db, tenant, "DINKES")
    triage = await machine_token(db, app, host, tenant=tenant.slug, scopes=TRIAGE)
    reader = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:read")
    officer = await user_token(
        db, app, client, host=host, tenant=tenant.slug, role=Role.UNIT_OFFICER, unit_id=ours,
        scopes="complaints:read complaints:respond",
    )  # fmt: skip
    for_us, for_them = await _submit(b, tenant.slug), await _submit(b, tenant.slug)
    for tracking_id in (for_us, for_them):
        await _post(b, tenant.slug, VERIFY, triage, t=tracking_id)
    channel = events_channel(tenant.slug)

    # The officer on process A (token in the handshake header); a filter on B, where the change is made.
    async with (
        subscriber(a, tenant.slug, officer, token_in="header") as unit_sub,
        subscriber(b, tenant.slug, reader) as filtered,
    ):
        await unit_sub.subscribe("1")
        await filtered.subscribe("7", t=for_them.lower())
        await _until_subscribers(redis, channel, 2)
        await _post(b, tenant.slug, ASSIGN, triage, t=for_them, u=global_id("Unit", theirs))
        await _post(b, tenant.slug, ASSIGN, triage, t=for_us, u=global_id("Unit", ours))
        # Events arrive in order: the first each one gets proves the other complaint's was filtered.
        seen_by_unit = await unit_sub.event("1")
        seen_by_filter = await filtered.event("7")
    assert (seen_by_unit["trackingId"], seen_by_unit["action"]) == (for_us, "ASSIGN")
    assert (seen_by_filter["trackingId"], seen_by_filter["action"]) == (for_them, "ASSIGN")
    await _until_subscribers(redis, channel, 0)


async def test_a_subscription_needs_a_token_for_this_tenant_with_read_scope(
    redis_pair, minting, db, make_regency
) -> None:
    a, _b = redis_pair
    tenant, other = await make_regency(), await make_regency()
    app, _client = minting
    other_host = f"{other.slug}.{BASE_DOMAIN}"
    foreign = await machine_token(db, app, other_host, tenant=other.slug, scopes="complaints:read")
    no_read = await machine_token(
        db, app, f"{tenant.slug}.{BASE_DOMAIN}", tenant=tenant.slug, scopes="stats:read"
    )
    cases = [(None, "UNAUTHENTICATED"), ("not-a-jwt", "UNAUTHENTICATED"), (foreign, "FORBIDDEN"),
             (no_read, "FORBIDDEN")]  # fmt: skip
    for token, code in cases:
        async with subscriber(a, tenant.slug, token) as sub:
            await sub.subscribe("1")
            assert await sub.error_codes("1") == [code], token
    # The same foreign token does work on its own tenant's host.
    async with subscriber(a, other.slug, foreign) as sub:
        await sub.subscribe("1", query="subscription { complaintEvents { trackingId } } ")
        await sub.stop("1")


async def test_stopping_a_subscription_releases_it_while_the_socket_stays(
    redis_pair, minting, db, make_regency, redis
) -> None:
    a, _b = redis_pair
    tenant = await make_regency()
    app, _client = minting
    reader = await machine_token(db, app, f"{tenant.slug}.{BASE_DOMAIN}", tenant=tenant.slug,
                                 scopes="complaints:read")  # fmt: skip
    channel = events_channel(tenant.slug)
    async with subscriber(a, tenant.slug, reader) as sub:
        await sub.subscribe("1")
        await sub.subscribe("2")
        await _until_subscribers(redis, channel, 1)
        await sub.stop("1")
        await sub.stop("2")
        await _until_subscribers(redis, channel, 0)
        await sub.subscribe("3")  # the process subscribes again after having let go
        await _until_subscribers(redis, channel, 1)
        tracking_id = await _submit(a, tenant.slug)
        assert (await sub.event("3"))["trackingId"] == tracking_id


# --- tests: one process without Redis ----------------------------------------------------------


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_without_redis_the_in_process_bus_feeds_subscribers(
    lone_server, minting, db, make_regency, protocol
) -> None:
    tenant = await make_regency()
    app, _client = minting
    reader = await machine_token(db, app, f"{tenant.slug}.{BASE_DOMAIN}", tenant=tenant.slug,
                                 scopes="complaints:read")  # fmt: skip
    async with subscriber(lone_server, tenant.slug, reader, protocol=protocol) as sub:
        await sub.subscribe("1")
        # Nothing outside the process shows when the subscription is live: submit until one arrives.
        sent: list[str] = []
        event = None
        for _attempt in range(40):
            sent.append(await _submit(lone_server, tenant.slug))
            with contextlib.suppress(TimeoutError):
                event = await sub.event(wait=0.25)
                break
        assert event is not None and event["trackingId"] in sent
        assert (event["action"], event["status"]) == ("SUBMIT", "SUBMITTED")


# --- the pieces, directly ----------------------------------------------------------------------


def _change(tracking_id: str = "X-1", unit_id: int | None = None) -> ComplaintChange:
    return ComplaintChange(tracking_id, "IN_PROGRESS", "ASSIGN", 3, unit_id, dt.datetime.now(dt.UTC))


def test_visibility_follows_the_tracking_filter_and_the_officers_unit() -> None:
    assert visible(_change(), tracking_id=None, unit_id=None)
    assert not visible(_change(), tracking_id="X-2", unit_id=None)
    assert visible(_change(unit_id=4), tracking_id="X-1", unit_id=4)
    assert not visible(_change(unit_id=5), tracking_id=None, unit_id=4)
    assert not visible(_change(unit_id=None), tracking_id=None, unit_id=4)


def test_change_messages_round_trip_and_bad_ones_are_refused() -> None:
    change = _change(unit_id=4)
    assert ComplaintChange.from_json(change.to_json()) == change
    for bad in (
        "",
        "[]",
        "{}",
        '{"trackingId": "A"}',
        json.dumps({**json.loads(change.to_json()), "at": "x"}),
    ):
        with pytest.raises(ValueError):
            ComplaintChange.from_json(bad)


async def test_a_feed_that_overflows_ends_with_subscriber_too_slow() -> None:
    feed = EventFeed(tracking_id=None, unit_id=None, size=2)
    feed.offer("not json")  # ignored, logged
    for number in range(2):
        feed.offer(_change(f"X-{number}").to_json())
    assert (await feed.next()).tracking_id == "X-0"
    feed.offer(_change("X-2").to_json())
    feed.offer(_change("X-3").to_json())  # one too many: wait
    with pytest.raises(DomainError) as refused:
        await feed.next()
    assert refused.value.code == "SUBSCRIBER_TOO_SLOW"


async def test_in_process_bus_unsubscribe_stops_one_handler_only() -> None:
    bus = InProcessBus()
    first: list[str] = []
    second: list[str] = []
    await bus.subscribe("c", first.append)
    await bus.subscribe("c", second.append)
    await bus.unsubscribe("c", first.append)
    await bus.unsubscribe("c", first.append)  # twice, or never subscribed: ignored
    await bus.unsubscribe("other", first.append)
    await bus.publish("c", "m")
    assert (first, second) == ([], ["m"])
    await bus.unsubscribe("c", second.append)
    await bus.publish("c", "n")
    assert second == ["m"]


async def test_redis_bus_lets_go_of_a_channel_and_can_take_it_again(redis_url, redis) -> None:
    channel = f"lapor:test:{uuid.uuid4().hex}"
    bus, publisher = make_bus(redis_url), make_bus(redis_url)
    assert isinstance(bus, RedisBus)
    got: asyncio.Queue[str] = asyncio.Queue()
    other: list[str] = []
    try:
        await bus.subscribe(channel, got.put_nowait)
        await bus.subscribe(channel, other.append)
        await _until_subscribers(redis, channel, 1)
        await bus.unsubscribe(channel, other.append)
        await publisher.publish(channel, "one")
        assert await asyncio.wait_for(got.get(), 5) == "one"
        await bus.unsubscribe(channel, got.put_nowait)  # the bus's only channel: nothing left
        await _until_subscribers(redis, channel, 0)
        await bus.subscribe(channel, got.put_nowait)
        await _until_subscribers(redis, channel, 1)
        await publisher.publish(channel, "two")
        assert await asyncio.wait_for(got.get(), 5) == "two"
        assert other == []
    finally:
        await bus.close()
        await publisher.close()


async def test_redis_bus_subscriptions_converge_under_concurrent_churn(redis_url, redis) -> None:
    """Subscribers that come and go at once (cancelled at any point) must leave Redis subscribed
    exactly while a handler exists: SUBSCRIBE and UNSUBSCRIBE must not overtake each other."""
    bus, publisher = make_bus(redis_url), make_bus(redis_url)
    assert isinstance(bus, RedisBus)
    await bus.subscribe(f"lapor:test:{uuid.uuid4().hex}", lambda _message: None)  # the listener is up

    async def one_subscriber(channel: str, start: float, hold: float) -> None:
        await asyncio.sleep(start)
        queue: asyncio.Queue[str] = asyncio.Queue()
        try:
            await bus.subscribe(channel, queue.put_nowait)
            await asyncio.sleep(hold)
        finally:
            await bus.unsubscribe(channel, queue.put_nowait)

    try:
        for round_ in range(40):
            channel = f"lapor:test:{uuid.uuid4().hex}"
            rng = random.Random(round_)
            tasks = [
                asyncio.create_task(one_subscriber(channel, rng.random() * 0.003, rng.random() * 0.003))
                for _ in range(6)
            ]
            await asyncio.sleep(rng.random() * 0.003)
            for task in tasks[round_ % 2 :: 2]:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _until_subscribers(redis, channel, 0)
            assert channel not in bus._handlers
        survivor: asyncio.Queue[str] = asyncio.Queue()
        await bus.subscribe(channel, survivor.put_nowait)
        await publisher.publish(channel, "still here")
        assert await asyncio.wait_for(survivor.get(), 5) == "still here"
    finally:
        await bus.close()
        await publisher.close()
