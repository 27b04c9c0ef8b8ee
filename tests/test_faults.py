"""Faults with real servers the tests own (issue 6, item 3): PostgreSQL restarted under a stream of
submissions, Redis killed and started under load, an app process killed in the middle of transfers.

Why real servers: a connection pool's behaviour when its server goes away, a Redis client's when
its socket is reset, and PostgreSQL's rollback of a transaction whose client died are exactly what
mocks get wrong. Every server here is private (its own cluster, its own redis-server, on free
loopback ports), so stopping it never disturbs the shared PostgreSQL on 5432 or Redis on 6379.
Every wait is bounded: a request by a 10 s client timeout, each phase by a deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.secrets import Secrets
from lapor.settings import Settings
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.validation import TenantSpec
from tests.complaint_helpers import sample
from tests.conftest import BASE_DOMAIN
from tests.fault_servers import (
    HIERARCHY,
    PrivatePostgres,
    PrivateRedis,
    app_env,
    create_tenants,
    lapor_cli,
    live_app,
    private_postgres,
    provision,
)
from tests.fault_transfer_loop import SECRET

HOST = f"kupang-kota.{BASE_DOMAIN}"
CLIENT_TIMEOUT = 10.0
RECOVERY_BOUND = 5.0
"""Seconds within which the app must serve again once its server is back, without a restart."""

SUBMIT = """
mutation Submit($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) { trackingId accessCode duplicate errors { code message } }
}"""
TRANSFER = """
mutation Transfer($input: TransferComplaintInput!) {
  transferComplaint(input: $input) { complaint { status } errors { code message } }
}"""
TRACK = """
query Track($trackingId: String!, $accessCode: String!) {
  trackComplaint(trackingId: $trackingId, accessCode: $accessCode) { trackingId status }
  categories { code }
}"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    """One private cluster for the module (initdb costs seconds); each test has its own database."""
    with private_postgres() as pg:
        yield pg


# --- the client side: a stream of requests and what became of each ------------------------------


@dataclass
class Outcome:
    """One request: when it ran, and ``ok``, ``unavailable`` (a clear 503 / SERVICE_UNAVAILABLE)
    or ``bad`` (anything else: a 500, another error code, a timeout, a dropped connection)."""

    op: str
    ref: str
    started: float
    ended: float
    kind: str
    tracking_id: str | None = None
    access_code: str | None = None
    status: int = 0
    """The HTTP status (0 when no answer came)."""
    rate_limit_header: bool = False
    detail: str = ""


@dataclass
class Stream:
    """Workers sending requests until told to stop; every outcome is kept for the assertions."""

    client: httpx.AsyncClient
    token: str | None = None
    """A staff client's bearer token (complaints:transfer), for the transfer workers."""
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    to_transfer: list[Outcome] = field(default_factory=list)
    """Acknowledged submissions not yet handed to a transfer worker (each is tried once)."""
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def ok_since(self, moment: float, op: str = "submit") -> list[Outcome]:
        return [o for o in self.outcomes if o.op == op and o.kind == "ok" and o.started >= moment]

    async def until(self, check: Callable[[], bool], within: float, what: str) -> float:
        """Wait (bounded) until ``check`` holds; returns when it did."""
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} within {within} s")
            await asyncio.sleep(0.02)
        return time.monotonic()

    async def submit(self) -> None:
        while not self.stop.is_set():
            ref = f"fault-{self.run_id}-{next(self._numbers)}"
            variables = {
                "input": {
                    # The reference rides in the title: a public web submission (no token, no
                    # externalRef, which needs a gateway's client token since issue 9).
                    "title": f"Air PDAM tidak mengalir {ref}",
                    "body": "Sudah tiga hari air PDAM di Kelurahan Oebobo tidak mengalir sama sekali.",
                    "categoryCode": "INFRASTRUKTUR",
                }
            }
            outcome = await self._send("submit", ref, SUBMIT, variables)
            if outcome.kind == "ok":
                payload = json.loads(outcome.detail)["data"]["submitComplaint"]
                if payload["errors"] or not payload["trackingId"] or payload["duplicate"]:
                    outcome.kind = "bad"
                else:
                    outcome.tracking_id, outcome.access_code = payload["trackingId"], payload["accessCode"]
                    self.to_transfer.append(outcome)
            self.outcomes.append(outcome)
            if outcome.kind != "ok":
                await asyncio.sleep(0.05)  # a polite client backs off a little before retrying

    async def transfer(self) -> None:
        """Forward acknowledged complaints to ``ttu``, each once (no retry: an unanswered transfer
        leaves a complaint that must be wholly moved or wholly not)."""
        assert self.token is not None
        while not self.stop.is_set():
            if not self.to_transfer:
                await asyncio.sleep(0.02)
                continue
            submitted = self.to_transfer.pop(0)
            variables = {
                "input": {
                    "trackingId": submitted.tracking_id,
                    "targetTenant": "ttu",
                    "kind": "FORWARD",
                    "reason": "Bukan wewenang kota ini",
                }
            }
            outcome = await self._send("transfer", submitted.ref, TRANSFER, variables, self.token)
            outcome.tracking_id = submitted.tracking_id
            if outcome.kind == "ok":
                payload = json.loads(outcome.detail)["data"]["transferComplaint"]
                if payload["errors"] or payload["complaint"]["status"] != "TRANSFERRED":
                    outcome.kind = "bad"
            self.outcomes.append(outcome)
            if outcome.kind != "ok":
                await asyncio.sleep(0.05)

    async def read(self) -> None:
        while not self.stop.is_set():
            known = next((o for o in self.outcomes if o.op == "submit" and o.kind == "ok"), None)
            if known is None:
                await asyncio.sleep(0.02)
                continue
            variables = {"trackingId": known.tracking_id, "accessCode": known.access_code}
            outcome = await self._send("read", known.ref, TRACK, variables)
            if outcome.kind == "ok":
                data = json.loads(outcome.detail)["data"]
                if data["trackComplaint"]["trackingId"] != known.tracking_id or not data["categories"]:
                    outcome.kind = "bad"
            self.outcomes.append(outcome)

    async def _send(
        self, op: str, ref: str, query: str, variables: dict[str, object], token: str | None = None
    ) -> Outcome:
        started = time.monotonic()
        headers = {"host": HOST} | ({"authorization": f"Bearer {token}"} if token else {})
        try:
            response = await self.client.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        except httpx.TimeoutException:
            return Outcome(op, ref, started, time.monotonic(), "bad", detail="client timeout (a hang)")
        except httpx.HTTPError as error:
            return Outcome(
                op, ref, started, time.monotonic(), "bad", detail=f"{type(error).__name__}: {error}"
            )
        ended = time.monotonic()
        outcome = Outcome(
            op,
            ref,
            started,
            ended,
            _classify(response),
            status=response.status_code,
            rate_limit_header="ratelimit-limit" in response.headers,
        )
        outcome.detail = f"{response.status_code} {response.text[:600]}"
        if outcome.kind == "ok":
            outcome.detail = response.text
        return outcome


def _classify(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "bad"
    if response.status_code == 503:
        return "unavailable" if body.get("error", {}).get("code") == "SERVICE_UNAVAILABLE" else "bad"
    if response.status_code != 200:
        return "bad"
    errors = body.get("errors") or []
    if not errors:
        return "ok"
    codes = {(error.get("extensions") or {}).get("code") for error in errors}
    return "unavailable" if codes == {"SERVICE_UNAVAILABLE"} else "bad"


async def _streaming(
    base: str,
    scenario: Callable[[Stream], Awaitable[None]],
    *,
    submitters: int,
    readers: int = 0,
    transferrers: int = 0,
    token: str | None = None,
) -> Stream:
    """Run ``scenario`` while workers stream requests; stop them (bounded) when it ends."""
    limits = httpx.Limits(max_connections=submitters + readers + transferrers)
    async with httpx.AsyncClient(base_url=base, timeout=CLIENT_TIMEOUT, limits=limits) as client:
        stream = Stream(client, token)
        workers = [asyncio.create_task(stream.submit()) for _ in range(submitters)]
        workers += [asyncio.create_task(stream.read()) for _ in range(readers)]
        workers += [asyncio.create_task(stream.transfer()) for _ in range(transferrers)]
        try:
            await scenario(stream)
        finally:
            stream.stop.set()
            # Each worker finishes its request in flight: at most one client timeout.
            done, pending = await asyncio.wait(workers, timeout=CLIENT_TIMEOUT + 5)
            for task in pending:
                task.cancel()
            for task in done:
                task.result()
        assert not pending, "request workers did not stop"
        return stream


def _latencies(stream: Stream, marks: dict[str, float]) -> str:
    """Median and worst latency before, during and after the outage (for the printed summary)."""
    phases = {
        "before": lambda o: o.ended < marks["down"],
        "during": lambda o: marks["down"] <= o.started and o.ended <= marks["starting"],
        "after": lambda o: o.started >= marks["up"],
    }
    parts = []
    for name, belongs in phases.items():
        spent = sorted(o.ended - o.started for o in stream.outcomes if belongs(o))
        if spent:
            parts.append(f"{name} p50 {spent[len(spent) // 2] * 1000:.0f} ms max {spent[-1] * 1000:.0f} ms")
    return "; ".join(parts)


def _bad(stream: Stream) -> list[str]:
    return [f"{o.op} {o.ref}: {o.detail}" for o in stream.outcomes if o.kind == "bad"]


# --- what the database holds ---------------------------------------------------------------------


def _stored(url: str, slug: str) -> dict[str, list[str]]:
    """reference (the title's last word) -> tracking ids of the tenant's complaints, read as the
    superuser."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        schema = conn.execute("SELECT schema_name FROM public.tenant WHERE slug = %s", (slug,)).fetchone()
        assert schema is not None
        rows = conn.execute(
            sql.SQL("SELECT split_part(title, ' ', 5), tracking_id FROM {}.complaint").format(
                sql.Identifier(schema[0])
            )
        ).fetchall()
        indexed = {
            tid
            for (tid,) in conn.execute(
                "SELECT tracking_id FROM national_complaint WHERE tenant_slug = %s", (slug,)
            )
        }
    stored: dict[str, list[str]] = {}
    for ref, tid in rows:
        stored.setdefault(ref, []).append(tid)
        assert tid in indexed, f"{tid} stored without its national index row"
    return stored


def _assert_acknowledged_stored_once(stream: Stream, url: str) -> dict[str, list[str]]:
    stored = _stored(url, "kupang-kota")
    acknowledged = [o for o in stream.outcomes if o.op == "submit" and o.kind == "ok"]
    for outcome in acknowledged:
        assert stored.get(outcome.ref) == [outcome.tracking_id], (
            f"acknowledged {outcome.ref} ({outcome.tracking_id}) stored as {stored.get(outcome.ref)}"
        )
    sent = {o.ref for o in stream.outcomes if o.op == "submit"}
    assert set(stored) <= sent, f"complaints nobody sent: {set(stored) - sent}"
    return stored


# --- 1. PostgreSQL restarted during a stream of submissions ----------------------------------------


async def test_postgres_restart_during_submissions(cluster: PrivatePostgres, tmp_path: Path) -> None:
    """Stop the cluster (``pg_ctl stop -m fast``) for 3 s under a stream of submissions, start it
    again. Acknowledged means stored, exactly once; the outage is a clear SERVICE_UNAVAILABLE
    (never a 500, never a hang); the same app process serves again within seconds."""
    url = cluster.create_database(f"lapor_faults_pg_{uuid.uuid4().hex[:6]}")
    env = app_env(url, LAPOR_DB_POOL_SIZE="4", LAPOR_DB_MAX_OVERFLOW="4")
    create_tenants(env)
    marks: dict[str, float] = {}

    async def scenario(stream: Stream) -> None:
        await stream.until(lambda: len(stream.ok_since(0)) >= 20, 15, "no submissions before the outage")
        await asyncio.to_thread(cluster.stop, "fast")
        marks["down"] = time.monotonic()
        await asyncio.sleep(3)
        marks["starting"] = time.monotonic()
        await asyncio.to_thread(cluster.start)
        marks["up"] = time.monotonic()
        marks["recovered"] = await stream.until(
            lambda: len(stream.ok_since(marks["up"])) >= 5, RECOVERY_BOUND, "no recovery after the restart"
        )
        await asyncio.sleep(1)

    with live_app(env, tmp_path / "app.log") as app:
        try:
            stream = await _streaming(app.base, scenario, submitters=6)
        finally:
            if not cluster.is_running():
                cluster.start()
        assert app.process.poll() is None, "the app died"
        log = app.log_tail(20_000)

    bad = _bad(stream)
    assert not bad, f"{len(bad)} unclear answers, e.g. {bad[:3]}\napp log:\n{log[-3000:]}"
    assert "unexpected error in GraphQL execution" not in log, log[-3000:]
    during = [o for o in stream.outcomes if marks["down"] <= o.started and o.ended <= marks["starting"]]
    assert during, "no request ran during the outage"
    assert all(o.kind == "unavailable" for o in during), (
        "every request during the outage must get SERVICE_UNAVAILABLE"
    )
    assert max(o.ended - o.started for o in stream.outcomes) < CLIENT_TIMEOUT
    stored = _assert_acknowledged_stored_once(stream, url)
    recovery = marks["recovered"] - marks["up"]
    print(
        f"\npostgres restart: {len(stream.outcomes)} submissions, "
        f"{sum(o.kind == 'ok' for o in stream.outcomes)} acknowledged, "
        f"{sum(o.kind == 'unavailable' and o.status == 200 for o in stream.outcomes)} SERVICE_UNAVAILABLE "
        f"GraphQL errors and {sum(o.status == 503 for o in stream.outcomes)} 503s (host lookup), "
        f"{len(stored)} stored; recovered {recovery:.2f} s after the server was up; "
        f"{_latencies(stream, marks)}"
    )


# --- 2. Redis killed and started again under load --------------------------------------------------


async def test_redis_killed_and_restarted_under_load(cluster: PrivatePostgres, tmp_path: Path) -> None:
    """Kill the app's Redis (SIGKILL) under submissions and reads, keep going 3 s, start it again
    on the same port. Redis only carries rate limits, revocations and pub/sub: nothing may fail,
    no complaint may be lost, and the rate limit keeps answering (local fallback, then Redis)."""
    url = cluster.create_database(f"lapor_faults_redis_{uuid.uuid4().hex[:6]}")
    redis_server = PrivateRedis()
    redis_server.start()
    env = app_env(url, LAPOR_REDIS_URL=redis_server.url, LAPOR_RATE_LIMIT_PUBLIC="1000000")
    await provision(url, *HIERARCHY)
    marks: dict[str, float] = {}

    async def scenario(stream: Stream) -> None:
        await stream.until(lambda: len(stream.ok_since(0, "read")) >= 10, 15, "no reads before the outage")
        assert redis_server.keys() > 0, "rate limits not counted in Redis"
        marks["down"] = time.monotonic()
        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(3)
        marks["starting"] = time.monotonic()
        await asyncio.to_thread(redis_server.start)
        marks["up"] = time.monotonic()
        # Back in Redis: the limiter retries it after a second and counts there again.
        marks["recovered"] = await stream.until(
            lambda: redis_server.keys() > 0, RECOVERY_BOUND, "rate limits not back in Redis"
        )
        # Pub/sub (cache invalidation, complaint events) resubscribes by itself too.
        await stream.until(lambda: bool(redis_server.channels()), RECOVERY_BOUND, "pub/sub not resubscribed")
        await asyncio.sleep(1)

    try:
        with live_app(env, tmp_path / "app.log") as app:
            stream = await _streaming(app.base, scenario, submitters=4, readers=2)
            assert app.process.poll() is None, "the app died"
            log = app.log_tail(20_000)
    finally:
        redis_server.kill()

    bad = _bad(stream)
    assert not bad, f"{len(bad)} failed requests, e.g. {bad[:3]}\napp log:\n{log[-3000:]}"
    unavailable = [o for o in stream.outcomes if o.kind != "ok"]
    assert not unavailable, f"Redis down must not refuse requests: {unavailable[:3]}"
    during = [o for o in stream.outcomes if marks["down"] <= o.started and o.ended <= marks["starting"]]
    assert {o.op for o in during} == {"submit", "read"}, "no submissions and reads during the outage"
    missing = [o for o in stream.outcomes if not o.rate_limit_header]
    assert not missing, f"{len(missing)} answers without RateLimit headers, e.g. {missing[0]}"
    # Either line shows the fallback happened (the first can be rate-limited away in the log).
    fell_back = "Redis unavailable for rate limits" in log or "counted in Redis again" in log
    assert fell_back, "the limiter's fallback left no trace"
    stored = _assert_acknowledged_stored_once(stream, url)
    submitted = [o for o in stream.outcomes if o.op == "submit"]
    assert len(stored) == len(submitted), "complaints in the database != successful submissions"
    print(
        f"\nredis restart: {len(submitted)} submissions and "
        f"{sum(o.op == 'read' for o in stream.outcomes)} reads, all answered; {len(during)} during the "
        f"outage; {len(stored)} stored; limits back in Redis {marks['recovered'] - marks['up']:.2f} s "
        f"after it was up; {_latencies(stream, marks)}"
    )


# --- 3. An app process killed in the middle of transfers -------------------------------------------


class _Lines:
    """A subprocess's stdout read by a thread, so the test can wait for a line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line, ``None`` at end of output; fails after ``timeout`` seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output from the transfer process within {timeout} s") from None


SEEDED = 150


def _loop_process(url: str, errors: Path, *args: str) -> subprocess.Popen[str]:
    """Its stderr goes to a file: an unread pipe could fill up and stall it."""
    with errors.open("w") as sink:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tests.fault_transfer_loop", url, *args],
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )


@dataclass(frozen=True)
class _State:
    source_status: str
    source_version: int
    source_transfer_events: int
    target_rows: int
    ledger_rows: int
    index: dict[str, str]


def _states(url: str, source: str, target: str, ids: list[str]) -> dict[str, _State]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        schemas = dict(
            conn.execute(
                "SELECT slug, schema_name FROM public.tenant WHERE slug IN (%s, %s)", (source, target)
            )
        )
        src, tgt = sql.Identifier(schemas[source]), sql.Identifier(schemas[target])
        states = {}
        for tid in ids:
            status, version, events = conn.execute(
                sql.SQL(
                    "SELECT c.status, c.version, (SELECT count(*) FROM {}.complaint_event e "
                    "WHERE e.complaint_id = c.id AND e.action = 'TRANSFER') FROM {}.complaint c "
                    "WHERE c.tracking_id = %s"
                ).format(src, src),
                (tid,),
            ).fetchone()
            target_rows = conn.execute(
                sql.SQL("SELECT count(*) FROM {}.complaint WHERE tracking_id = %s").format(tgt), (tid,)
            ).fetchone()[0]
            ledger = conn.execute(
                "SELECT count(*) FROM public.transfer WHERE tracking_id = %s", (tid,)
            ).fetchone()[0]
            index = dict(
                conn.execute(
                    "SELECT tenant_slug, status FROM national_complaint WHERE tracking_id = %s", (tid,)
                )
            )
            states[tid] = _State(status, version, events, target_rows, ledger, index)
    return states


def _whole_or_nothing(tid: str, state: _State, before: _State, target: str) -> bool:
    """True when transferred entirely, False when not at all; fails the test on anything between."""
    source = next(iter(before.index))
    moved = _State(
        "TRANSFERRED", before.source_version + 1, 1, 1, 1, {source: "TRANSFERRED", target: "SUBMITTED"}
    )
    if state == moved:
        return True
    assert state == before, f"{tid} is half transferred: {state} (before: {before})"
    return False


async def _seed(url: str, slug: str, count: int) -> list[str]:
    """Complaints through the real service (reporter data, timeline, index rows: all transferred)."""
    db = Database(url, Settings(database_url=url, base_domain=BASE_DOMAIN), pool_size=2, max_overflow=0)
    try:
        tenant = await TenantDirectory(db, BASE_DOMAIN).by_slug(slug)
        assert tenant is not None
        service = ComplaintService(db, Secrets(SECRET), CalendarStore(db))
        return [(await service.submit(tenant, sample())).complaint.tracking_id for _ in range(count)]
    finally:
        await db.dispose()


async def test_app_killed_mid_transfer_moves_all_or_nothing(cluster: PrivatePostgres, tmp_path: Path) -> None:
    """SIGKILL a process that is transferring complaints, six times: inside a transfer's open
    transaction at each of its steps (source closed, target written, ledger written) and at random
    moments of a free-running loop. Every complaint is then either wholly transferred (source
    TRANSFERRED, target row, ledger row, both index rows) or untouched; every transfer the
    process reported done is durable; the one it was paused in is rolled back."""
    url = cluster.create_database(f"lapor_faults_transfer_{uuid.uuid4().hex[:6]}")
    ttu = TenantSpec("ttu", "Kab. Timor Tengah Utara", "REGENCY", parent="ntt", region_code="53.05")
    await provision(url, *HIERARCHY, ttu)
    ids = await _seed(url, "kupang-kota", SEEDED)
    before = _states(url, "kupang-kota", "ttu", ids)
    assert all(state.source_status == "SUBMITTED" and state.target_rows == 0 for state in before.values())

    chance = random.Random()
    rounds = [("left", 0), ("arrived", 2), ("ledger", 1), (None, 0), (None, 0), (None, 0)]
    moved: set[str] = set()
    for stage, pause_at in rounds:
        pending = [tid for tid in ids if tid not in moved]
        assert len(pending) > 5, "not enough complaints left for another round"
        args = ["kupang-kota", "ttu", *(["--pause", stage, "--pause-at", str(pause_at)] if stage else [])]
        errors = tmp_path / f"loop-{len(moved)}-{stage}.err"
        process = _loop_process(url, errors, *args, *pending)
        lines = _Lines(process)
        acknowledged: set[str] = set()
        paused = None
        try:
            assert lines.next(30) == "READY", errors.read_text()
            while stage and paused is None:
                line = lines.next(15)
                assert line is not None, "the process ended without pausing"
                if line.startswith("PAUSED "):
                    paused = line.split()[2]
                elif line.startswith("DONE "):
                    acknowledged.add(line.split()[1])
            if not stage:  # kill at a random moment once the loop runs warm
                while (line := lines.next(15)) is not None and not line.startswith("DONE "):
                    pass
                assert line is not None, "the process ended before its first transfer"
                acknowledged.add(line.split()[1])
                await asyncio.sleep(chance.uniform(0, 0.15))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        while (line := lines.next(5)) is not None:  # what it said before dying counts too
            assert line != "FINISHED", "the loop finished before the kill: seed more complaints"
            if line.startswith("DONE "):
                acknowledged.add(line.split()[1])
        after = _states(url, "kupang-kota", "ttu", ids)
        now_moved = {tid for tid in ids if _whole_or_nothing(tid, after[tid], before[tid], "ttu")}
        assert moved <= now_moved, f"transfers undone: {moved - now_moved}"
        assert acknowledged <= now_moved, f"reported done but not transferred: {acknowledged - now_moved}"
        if stage:
            assert paused not in now_moved, f"{paused} was killed inside its transaction yet committed"
            assert len(now_moved - moved) == pause_at, "the transfers before the paused one must be done"
        moved = now_moved
    assert moved, "no transfer committed in any round"
    print(f"\ntransfer kill: {len(rounds)} kills, {len(moved)} of {len(ids)} transferred, none half")


# --- 4. PostgreSQL crashed (not stopped) under submissions and transfers ---------------------------

TTU = TenantSpec("ttu", "Kab. Timor Tengah Utara", "REGENCY", parent="ntt", region_code="53.05")
UNTOUCHED = _State("SUBMITTED", 1, 0, 0, 0, {"kupang-kota": "SUBMITTED"})
"""A complaint submitted through the stream and never moved, as the database must hold it."""


def _transfer_token(env: dict[str, str], base: str) -> str:
    """A staff client of kupang-kota that may transfer, and its token from the live app."""
    registered = lapor_cli(
        env, "clients", "create", "--tenant", "kupang-kota", "--name", "Fault transfers",
        "--scopes", "complaints:read complaints:transfer",
    )  # fmt: skip
    answer = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(registered["client_id"], registered["client_secret"]),
        headers={"host": HOST},
        timeout=CLIENT_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def _assert_transfers_whole(stream: Stream, url: str, stored: dict[str, list[str]]) -> set[str]:
    """Every complaint wholly moved to ttu or wholly not; every acknowledged transfer moved; none
    moved that nobody asked to move; each tracking id held (not TRANSFERRED) by exactly one tenant
    in the national index. Returns the moved tracking ids."""
    tids = [tid for ids in stored.values() for tid in ids]
    states = _states(url, "kupang-kota", "ttu", tids)
    moved = {tid for tid in tids if _whole_or_nothing(tid, states[tid], UNTOUCHED, "ttu")}
    tried = {o.tracking_id for o in stream.outcomes if o.op == "transfer"}
    acknowledged = {o.tracking_id for o in stream.outcomes if o.op == "transfer" and o.kind == "ok"}
    assert acknowledged <= moved, f"acknowledged transfers not moved: {sorted(acknowledged - moved)[:5]}"
    assert moved <= tried, f"moved without being asked: {sorted(moved - tried)[:5]}"
    with psycopg.connect(url, connect_timeout=5) as conn:
        schema = conn.execute("SELECT schema_name FROM public.tenant WHERE slug = 'ttu'").fetchone()[0]
        arrived = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.complaint").format(sql.Identifier(schema))
        ).fetchone()[0]
        held_twice_or_never = conn.execute(
            "SELECT tracking_id, array_agg(tenant_slug || ':' || status) FROM national_complaint "
            "GROUP BY tracking_id HAVING count(*) FILTER (WHERE status <> 'TRANSFERRED') <> 1"
        ).fetchall()
    assert arrived == len(moved), f"ttu holds {arrived} complaints, {len(moved)} were moved there"
    assert not held_twice_or_never, f"not held by exactly one tenant: {held_twice_or_never[:5]}"
    return moved


@pytest.mark.parametrize("crash", ["immediate", "sigkill"])
async def test_postgres_crash_under_submissions_and_transfers(
    cluster: PrivatePostgres, tmp_path: Path, crash: str
) -> None:
    """Crash the cluster under a stream of public submissions and staff transfers: ``pg_ctl stop
    -m immediate`` (no shutdown checkpoint, backends dropped mid-statement and mid-COMMIT), or
    every server process frozen and SIGKILLed at one instant (a power cut, as far as processes
    go). Two seconds later start it: it runs crash recovery. Acknowledged submissions are stored
    exactly once with their index rows; every acknowledged transfer is durable, and every complaint,
    the ones whose answer was lost in the crash included, is wholly in one tenant or wholly in the
    other; the outage answers a clear SERVICE_UNAVAILABLE; the same app process serves again."""
    url = cluster.create_database(f"lapor_faults_crash_{uuid.uuid4().hex[:6]}")
    env = app_env(url, LAPOR_DB_POOL_SIZE="4", LAPOR_DB_MAX_OVERFLOW="4")
    await provision(url, *HIERARCHY, TTU)
    marks: dict[str, float] = {}

    async def scenario(stream: Stream) -> None:
        await stream.until(
            lambda: len(stream.ok_since(0, "transfer")) >= 20, 20, "no transfers before the crash"
        )
        log_before = len(cluster.log_text())
        marks["crash"] = time.monotonic()
        if crash == "immediate":
            await asyncio.to_thread(cluster.stop, "immediate")
        else:
            await asyncio.to_thread(cluster.crash)
        marks["down"] = time.monotonic()
        await asyncio.sleep(2)
        marks["starting"] = time.monotonic()
        await asyncio.to_thread(cluster.start)
        marks["up"] = time.monotonic()
        assert "automatic recovery in progress" in cluster.log_text()[log_before:], "no crash recovery ran"
        marks["recovered"] = await stream.until(
            lambda: (
                len(stream.ok_since(marks["up"])) >= 5 and len(stream.ok_since(marks["up"], "transfer")) >= 5
            ),
            RECOVERY_BOUND,
            "no submissions and transfers after the restart",
        )
        await asyncio.sleep(1)

    with live_app(env, tmp_path / "app.log") as app:
        token = await asyncio.to_thread(_transfer_token, env, app.base)
        try:
            stream = await _streaming(app.base, scenario, submitters=4, transferrers=2, token=token)
        finally:
            if not cluster.is_running():
                cluster.start()
        assert app.process.poll() is None, "the app died"
        log = app.log_tail(20_000)

    bad = _bad(stream)
    assert not bad, f"{len(bad)} unclear answers, e.g. {bad[:3]}\napp log:\n{log[-3000:]}"
    assert "unexpected error in GraphQL execution" not in log, log[-3000:]
    during = [o for o in stream.outcomes if marks["down"] <= o.started and o.ended <= marks["starting"]]
    assert {o.op for o in during} == {"submit", "transfer"}, "no submissions and transfers in the outage"
    assert all(o.kind == "unavailable" for o in during), "the outage must answer SERVICE_UNAVAILABLE"
    assert max(o.ended - o.started for o in stream.outcomes) < CLIENT_TIMEOUT
    stored = _assert_acknowledged_stored_once(stream, url)
    moved = _assert_transfers_whole(stream, url, stored)
    in_flight = [o for o in stream.outcomes if o.started < marks["crash"] < o.ended]
    lost = [o for o in in_flight if o.kind != "ok"]
    lost_but_done = [
        o
        for o in lost
        if (o.op == "transfer" and o.tracking_id in moved) or (o.op == "submit" and o.ref in stored)
    ]
    transfers = [o for o in stream.outcomes if o.op == "transfer"]
    print(
        f"\npostgres crash ({crash}): {sum(o.op == 'submit' for o in stream.outcomes)} submissions, "
        f"{len(transfers)} transfers, {len(during)} answered SERVICE_UNAVAILABLE in the outage; "
        f"{len(in_flight)} in flight at the crash, {len(lost)} of them unanswered ({len(lost_but_done)} of "
        f"those committed anyway, none half); {len(stored)} stored, {len(moved)} moved; crash recovery "
        f"(start to accepting) {marks['up'] - marks['starting']:.2f} s; first acknowledged request "
        f"{marks['recovered'] - marks['up']:.2f} s after that; {_latencies(stream, marks)}"
    )
