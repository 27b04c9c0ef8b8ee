"""Load (issue 6, item 5): a mixed workload over 50 tenants for 60 s against 2 API workers.

In a scratch database: the national tenant, one province (``prov-53``) and 48 regencies under it
(provisioned concurrently), one OAuth client per tenant with staff scopes. The real app is
started as a separate process with ``uvicorn --workers 2`` (rate limits off, log level WARNING);
every client gets its bearer token from ``/oauth/token`` (client credentials) on its tenant's
host, and one work unit is created per tenant with ``createUnit``.

A short seed (4 submissions per tenant, half of them verified; it also warms both workers) is
followed by ``--seconds`` of mixed load from ``--clients`` concurrent clients, one keep-alive
connection each, every request on a tenant host picked at random (``Host: <slug>.localhost``):

- 70% reads: ``complaints(first: 20)`` with unit, category and last event, as staff (30%);
  ``publicComplaints(first: 20)`` (20%); ``trackComplaint`` of a complaint submitted earlier,
  with its access code (20%);
- 20% ``submitComplaint``, each with a unique ``externalRef``;
- 10% staff transitions on complaints the workload submitted: ``verifyComplaint``,
  ``assignComplaint`` (to the tenant's unit), ``respondToComplaint``, the step picked at random
  among those with candidates. The complaint is one of the four oldest waiting for that step, so
  two clients sometimes race for the same one: the loser's ``INVALID_TRANSITION`` or
  ``CONFLICT`` is a legitimate answer, counted apart from the errors.

Errors: any HTTP status but 200, any top-level GraphQL error (by ``extensions.code``), any payload
error other than the two race answers, a transport error or a 30 s timeout, an answer without
the data asked for. The target is zero.

Afterwards, read as the superuser from each tenant's schema: every acknowledged submission (one
that returned a tracking id) is stored exactly once, in its tenant, under its tracking id; each
complaint's status is the last transition acknowledged for it and it has one timeline event per
acknowledged step (submission included).

The load generator (bench/submit.py's minimal HTTP/1.1 client) runs in this process on the same
machine as the server and PostgreSQL; the busy cores of each are printed.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import psycopg
import uvloop
from _common import load_line, machine_line, percentile
from rss import free_port, wait_ready
from sqlalchemy.engine import make_url
from submit import Connection, background_line, client_note, post_request, submission_bodies

from lapor.auth.accounts import create_client
from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant
from lapor.tenants.validation import TenantSpec

LAPOR_APP = "lapor.platform.app:app_from_env"
WORKERS = 2
REGENCIES = 48
SECRET_KEY = secrets.token_hex(32)
SCOPES = "complaints:read complaints:submit complaints:triage complaints:respond units:write"
TIMEOUT = 30.0
RACE_ANSWERS = frozenset({"CONFLICT", "INVALID_TRANSITION"})

LIST = """
query List {
  complaints(first: 20) {
    edges { node { trackingId status unit { name } category { name } lastEvent { action at } } }
  }
}"""
PUBLIC = """
query Public {
  publicComplaints(first: 20) {
    edges { node { trackingId status title submittedAt unit { name } category { name } } }
  }
}"""
TRACK = """
query Track($t: String!, $c: String!) {
  trackComplaint(trackingId: $t, accessCode: $c) { trackingId status deadlineAt timeline { action toStatus } }
}"""
SUBMIT = """
mutation Submit($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) {
    trackingId accessCode duplicate complaint { status } errors { field code }
  }
}"""
CREATE_UNIT = "mutation($i: CreateUnitInput!) { createUnit(input: $i) { unit { id } errors { code } } }"


def transition(mutation: str, input_type: str) -> str:
    return (
        f"mutation($i: {input_type}!) {{ {mutation}(input: $i) "
        "{ complaint { trackingId status } errors { code } } }"
    )


# step -> (mutation, its document, the status it needs, the status it leaves)
STEPS = {
    "verify": (
        "verifyComplaint", transition("verifyComplaint", "VerifyComplaintInput"), "SUBMITTED", "VERIFIED",
    ),
    "assign": (
        "assignComplaint", transition("assignComplaint", "AssignComplaintInput"), "VERIFIED", "IN_PROGRESS",
    ),
    "respond": (
        "respondToComplaint", transition("respondToComplaint", "RespondToComplaintInput"), "IN_PROGRESS",
        "RESPONDED",
    ),
}  # fmt: skip
NEXT_STEP = {"verify": "assign", "assign": "respond", "respond": None}
# (operation, cumulative probability): 70% reads, 20% submissions, 10% transitions.
MIX = (("list", 0.30), ("public", 0.50), ("track", 0.70), ("submit", 0.90), ("transition", 1.00))
GROUPS = {
    "reads": ("list", "public", "track"),
    "submissions": ("submit",),
    "transitions": ("verify", "assign", "respond"),
}


# --- setup -------------------------------------------------------------------------------------


def tenant_specs() -> list[TenantSpec]:
    """The national tenant, ``prov-53`` and 48 regencies under it, in creation order."""
    zone = "Asia/Makassar"
    specs = [
        TenantSpec("nasional", "Nasional", "NATIONAL"),
        TenantSpec("prov-53", "Provinsi Nusa Tenggara Timur", "PROVINCE", region_code="53", time_zone=zone),
    ]
    for number in range(1, REGENCIES + 1):
        specs.append(
            TenantSpec(
                f"kab-{number:02d}", f"Kabupaten {number:02d}", "REGENCY", parent="prov-53",
                region_code=f"53.{number:02d}", time_zone=zone,
            )
        )  # fmt: skip
    return specs


async def provision(url: str, tasks: int) -> tuple[list[tuple[Tenant, str, str]], float, float]:
    """Tenants and one OAuth client each; ((tenant, client id, secret), provisioning s, clients s)."""
    db = Database(url, Settings(), pool_size=tasks, max_overflow=0)
    try:
        await upgrade_public(db)
        provisioner = Provisioner(db, "localhost")
        specs = tenant_specs()
        started = time.perf_counter()
        tenants = [await provisioner.create(spec) for spec in specs[:2]]  # the parents first
        queue = iter(specs[2:])

        async def provision_worker() -> list[Tenant]:
            return [await provisioner.create(spec) for spec in queue]

        for made in await asyncio.gather(*(provision_worker() for _ in range(tasks))):
            tenants += made
        provisioned = time.perf_counter() - started

        started = time.perf_counter()
        semaphore = asyncio.Semaphore(tasks)

        async def register(tenant: Tenant) -> tuple[Tenant, str, str]:
            async with semaphore:
                client, secret = await create_client(
                    db,
                    name=f"Beban staf {tenant.slug}",
                    scopes=frozenset(SCOPES.split()),
                    tenant_slug=tenant.slug,
                )
            assert secret is not None
            return tenant, client.client_id, secret

        clients = list(await asyncio.gather(*(register(t) for t in tenants)))
        return clients, provisioned, time.perf_counter() - started
    finally:
        await db.dispose()


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LAPOR_DATABASE_URL": url,
        "LAPOR_BASE_DOMAIN": "localhost",
        "LAPOR_SECRET_KEY": SECRET_KEY,
        "LAPOR_RATE_LIMIT_PUBLIC": "0",
        "LAPOR_RATE_LIMIT_CLIENT": "0",
        "LAPOR_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", LAPOR_APP, "--factory", "--workers", str(WORKERS)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(command, env=env)


@dataclass(eq=False)
class Tracked:
    """A complaint the workload submitted and got acknowledged."""

    site: Site
    tracking_id: str
    access_code: str | None
    external_ref: str
    status: str = "SUBMITTED"
    steps: int = 0
    """Transitions acknowledged for it."""


@dataclass(eq=False)
class Site:
    """One tenant host as the workload sees it."""

    tenant: Tenant
    host: str
    staff: dict[str, str] = field(default_factory=dict)
    unit_id: str = ""
    list_request: bytes = b""
    public_request: bytes = b""
    trackable: list[Tracked] = field(default_factory=list)
    waiting: dict[str, list[Tracked]] = field(default_factory=lambda: {step: [] for step in STEPS})
    """Complaints waiting for each step, oldest first."""


async def prepare_sites(port: int, clients: list[tuple[Tenant, str, str]]) -> list[Site]:
    """Per tenant: a token from ``/oauth/token`` and a unit through ``createUnit``."""
    sites = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT) as http:

        async def one(tenant: Tenant, client_id: str, secret: str) -> Site:
            site = Site(tenant, f"{tenant.slug}.localhost")
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": SCOPES},
                auth=(client_id, secret),
                headers={"Host": site.host},
            )
            if answer.status_code != 200:
                raise RuntimeError(f"no token for {tenant.slug}: {answer.status_code} {answer.text[:300]}")
            site.staff = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            answer = await http.post(
                "/graphql",
                json={"query": CREATE_UNIT, "variables": {"i": {"code": "PUPR", "name": "Dinas PUPR"}}},
                headers={"Host": site.host, **site.staff},
            )
            created = answer.json().get("data") or {}
            if answer.status_code != 200 or not (created.get("createUnit") or {}).get("unit"):
                raise RuntimeError(f"no unit for {tenant.slug}: {answer.status_code} {answer.text[:300]}")
            site.unit_id = created["createUnit"]["unit"]["id"]
            site.list_request = post_request("/graphql", site.host, {"query": LIST}, site.staff)
            site.public_request = post_request("/graphql", site.host, {"query": PUBLIC})
            return site

        for start in range(0, len(clients), 8):
            sites += await asyncio.gather(*(one(*c) for c in clients[start : start + 8]))
    return sites


# --- the workload ------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    races: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def count(self, *ops: str) -> int:
        return sum(len(self.latencies.get(op, ())) for op in ops)


class Workload:
    def __init__(self, sites: list[Site], port: int, run: str) -> None:
        self.sites, self.port, self.run = sites, port, run
        self.bodies = submission_bodies(240)
        self.submitted = 0
        self.acknowledged: dict[str, Tracked] = {}
        """external ref -> the complaint, for every submission answered with a tracking id."""
        self.sent_refs: set[str] = set()

    # one request --------------------------------------------------------------------------

    async def call(
        self, connection: Connection, stats: Stats, op: str, request: bytes
    ) -> tuple[Connection, dict[str, Any] | None]:
        """Send ``request``; record its latency and any transport or HTTP or GraphQL error.

        Returns the (possibly reopened) connection and the answer's ``data`` (``None`` on error)."""
        begun = time.perf_counter()
        try:
            status, raw = await asyncio.wait_for(connection.exchange(request), TIMEOUT)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            RuntimeError,
            TimeoutError,
        ) as error:
            stats.latencies.setdefault(op, []).append(time.perf_counter() - begun)
            self.error(stats, op, f"transport {type(error).__name__}", str(error))
            connection.close()
            return await Connection.open(self.port), None
        stats.latencies.setdefault(op, []).append(time.perf_counter() - begun)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        errors = body.get("errors") if isinstance(body, dict) else None
        codes = sorted({str(((e or {}).get("extensions") or {}).get("code")) for e in errors or ()})
        if status != 200:
            self.error(
                stats, op, f"HTTP {status} {','.join(codes)}".strip(), raw[:300].decode(errors="replace")
            )
            return connection, None
        if errors:
            self.error(stats, op, f"GraphQL {','.join(codes)}", raw[:300].decode(errors="replace"))
            return connection, None
        return connection, body.get("data") or {}

    @staticmethod
    def error(stats: Stats, op: str, kind: str, example: str) -> None:
        stats.errors[(op, kind)] += 1
        stats.examples.setdefault((op, kind), " ".join(example.split())[:300])

    # operations ---------------------------------------------------------------------------

    async def list_complaints(self, connection: Connection, stats: Stats, site: Site) -> Connection:
        connection, data = await self.call(connection, stats, "list", site.list_request)
        if data is not None and not isinstance((data.get("complaints") or {}).get("edges"), list):
            self.error(stats, "list", "no edges", json.dumps(data)[:300])
        return connection

    async def public(self, connection: Connection, stats: Stats, site: Site) -> Connection:
        connection, data = await self.call(connection, stats, "public", site.public_request)
        if data is not None and not isinstance((data.get("publicComplaints") or {}).get("edges"), list):
            self.error(stats, "public", "no edges", json.dumps(data)[:300])
        return connection

    async def track(self, connection: Connection, stats: Stats, site: Site, rng: random.Random) -> Connection:
        if not site.trackable:
            return await self.public(connection, stats, site)
        complaint = rng.choice(site.trackable)
        body = {"query": TRACK, "variables": {"t": complaint.tracking_id, "c": complaint.access_code}}
        connection, data = await self.call(
            connection, stats, "track", post_request("/graphql", site.host, body)
        )
        if data is not None and (data.get("trackComplaint") or {}).get("trackingId") != complaint.tracking_id:
            self.error(stats, "track", "wrong complaint", json.dumps(data)[:300])
        return connection

    async def submit(self, connection: Connection, stats: Stats, site: Site) -> Connection:
        number = self.submitted
        self.submitted += 1
        ref = f"load-{self.run}-{number:06d}"
        self.sent_refs.add(ref)
        body = self.bodies[number % len(self.bodies)]
        body = {**body, "variables": {"input": {**body["variables"]["input"], "externalRef": ref}}}
        body["query"] = SUBMIT
        connection, data = await self.call(
            connection, stats, "submit", post_request("/graphql", site.host, body)
        )
        if data is None:
            return connection
        payload = data.get("submitComplaint") or {}
        if payload.get("errors"):
            codes = ",".join(sorted({e.get("code") or "?" for e in payload["errors"]}))
            self.error(stats, "submit", f"payload {codes}", json.dumps(payload)[:300])
        elif not payload.get("trackingId"):
            self.error(stats, "submit", "no tracking id", json.dumps(payload)[:300])
        else:
            if payload.get("duplicate"):
                self.error(stats, "submit", "duplicate=true for a new externalRef", json.dumps(payload)[:300])
            complaint = Tracked(site, payload["trackingId"], payload.get("accessCode"), ref)
            self.acknowledged[ref] = complaint
            if complaint.access_code:
                site.trackable.append(complaint)
            site.waiting["verify"].append(complaint)
        return connection

    async def step(
        self, connection: Connection, stats: Stats, site: Site, step: str, complaint: Tracked
    ) -> Connection:
        mutation, document, _needs, leaves = STEPS[step]
        values: dict[str, Any] = {"trackingId": complaint.tracking_id}
        if step == "assign":
            values["unitId"] = site.unit_id
        elif step == "respond":
            values |= {
                "outcome": "RESOLVED",
                "message": "Sudah ditindaklanjuti oleh dinas terkait. Terima kasih.",
            }
        body = {"query": document, "variables": {"i": values}}
        connection, data = await self.call(
            connection, stats, step, post_request("/graphql", site.host, body, site.staff)
        )
        if data is None:
            return connection
        payload = data.get(mutation) or {}
        codes = {e.get("code") or "?" for e in payload.get("errors") or ()}
        if codes and codes <= RACE_ANSWERS:
            stats.races[(step, ",".join(sorted(codes)))] += 1
            if complaint in site.waiting[step]:  # the winner moves it on
                site.waiting[step].remove(complaint)
        elif codes:
            self.error(stats, step, f"payload {','.join(sorted(codes))}", json.dumps(payload)[:300])
        elif (payload.get("complaint") or {}).get("status") != leaves:
            self.error(stats, step, "unexpected status", json.dumps(payload)[:300])
        else:
            complaint.status, complaint.steps = leaves, complaint.steps + 1
            if complaint in site.waiting[step]:
                site.waiting[step].remove(complaint)
            if NEXT_STEP[step]:
                site.waiting[NEXT_STEP[step]].append(complaint)
        return connection

    async def transition(self, connection: Connection, stats: Stats, rng: random.Random) -> Connection:
        """A step on one of the four oldest complaints waiting for it, in a tenant that has one."""
        for site in rng.sample(self.sites, len(self.sites)):
            steps = [step for step, waiting in site.waiting.items() if waiting]
            if steps:
                step = rng.choice(steps)
                complaint = rng.choice(site.waiting[step][:4])
                return await self.step(connection, stats, site, step, complaint)
        return await self.submit(connection, stats, rng.choice(self.sites))

    async def one(self, connection: Connection, stats: Stats, rng: random.Random) -> Connection:
        roll = rng.random()
        op = next(name for name, bound in MIX if roll < bound)
        site = rng.choice(self.sites)
        if op == "list":
            return await self.list_complaints(connection, stats, site)
        if op == "public":
            return await self.public(connection, stats, site)
        if op == "track":
            return await self.track(connection, stats, site, rng)
        if op == "submit":
            return await self.submit(connection, stats, site)
        return await self.transition(connection, stats, rng)

    # phases -------------------------------------------------------------------------------

    async def seed(self, connections: list[Connection], per_tenant: int) -> Stats:
        """``per_tenant`` submissions on every host, then half of them verified."""
        stats = Stats()
        started = time.perf_counter()
        jobs = [site for site in self.sites for _ in range(per_tenant)]

        async def submitter(connection: Connection) -> None:
            while jobs:
                connection = await self.submit(connection, stats, jobs.pop())

        await asyncio.gather(*(submitter(c) for c in connections))
        verify = [(s, c) for s in self.sites for c in s.waiting["verify"][: per_tenant // 2]]

        async def verifier(connection: Connection) -> None:
            while verify:
                site, complaint = verify.pop()
                connection = await self.step(connection, stats, site, "verify", complaint)

        await asyncio.gather(*(verifier(c) for c in connections))
        stats.seconds = time.perf_counter() - started
        return stats

    async def drive(self, connections: list[Connection], seconds: float, meter: CpuMeter) -> Stats:
        stats = Stats()
        before = meter.read()
        started = time.perf_counter()
        deadline = started + seconds

        async def client(number: int, connection: Connection) -> None:
            rng = random.Random(number)
            while time.perf_counter() < deadline:
                connection = await self.one(connection, stats, rng)
            connection.close()

        await asyncio.gather(*(client(n, c) for n, c in enumerate(connections)))
        stats.seconds = time.perf_counter() - started
        stats.cpu = meter.cores(before, meter.read(), stats.seconds)
        return stats


class CpuMeter:
    """CPU seconds of the server (supervisor and workers), this process, the PostgreSQL backends
    of ``database`` and the whole machine; :meth:`cores` turns two readings into busy cores."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server, self.me, self.database = psutil.Process(server_pid), psutil.Process(), database

    @staticmethod
    def _seconds(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    def read(self) -> tuple[dict[int, float], float, dict[int, float], float]:
        server = {p.pid: self._seconds(p) for p in (self.server, *self.server.children(recursive=True))}
        backends = {}
        for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
            cmdline = process.info["cmdline"] or []
            if process.info["name"] == "postgres" and self.database in " ".join(cmdline).split():
                backends[process.pid] = process.info["cpu_times"].user + process.info["cpu_times"].system
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return server, self._seconds(self.me), backends, busy

    def cores(self, before: Any, after: Any, seconds: float) -> dict[str, float]:
        server = sum(value - before[0].get(pid, 0.0) for pid, value in after[0].items())
        postgres = sum(value - before[2].get(pid, 0.0) for pid, value in after[2].items())
        spent = {"server": server, "client": after[1] - before[1], "postgres": postgres}
        spent["machine"] = after[3] - before[3]
        cores = {name: value / seconds for name, value in spent.items()}
        cores["other"] = max(0.0, cores["machine"] - cores["server"] - cores["client"] - cores["postgres"])
        return cores


# --- the check afterwards ----------------------------------------------------------------------


def check_stored(url: str, workload: Workload) -> list[str]:
    """Every acknowledged submission stored exactly once, in its tenant, with its acknowledged
    transitions; lines to print (the last one the verdict)."""
    pattern = f"load-{workload.run}-%"
    found: dict[str, list[tuple[str, str, str, int]]] = {}
    with psycopg.connect(url) as conn:
        for site in workload.sites:
            schema = site.tenant.schema_name
            rows = conn.execute(
                f"SELECT c.external_ref, c.tracking_id, c.status, "
                f"(SELECT count(*) FROM {schema}.complaint_event e WHERE e.complaint_id = c.id) "
                f"FROM {schema}.complaint c WHERE c.external_ref LIKE %s",
                (pattern,),
            ).fetchall()
            for ref, tracking_id, status, events in rows:
                found.setdefault(ref, []).append((site.tenant.slug, tracking_id, status, events))
    acked = workload.acknowledged
    missing = [ref for ref in acked if ref not in found]
    twice = [ref for ref, rows in found.items() if len(rows) > 1]
    elsewhere = [
        ref
        for ref, complaint in acked.items()
        if ref in found
        and len(found[ref]) == 1
        and found[ref][0][:2] != (complaint.site.tenant.slug, complaint.tracking_id)
    ]
    wrong_state = [
        ref
        for ref, complaint in acked.items()
        if ref in found
        and len(found[ref]) == 1
        and found[ref][0][2:] != (complaint.status, 1 + complaint.steps)
    ]
    unacked = [ref for ref in found if ref not in acked]
    stored = len(acked) - len(missing)
    exact = len(acked) - len(missing) - len({*twice} & acked.keys()) - len(elsewhere)
    lines = [
        f"submissions sent {len(workload.sent_refs)}, acknowledged {len(acked)}, stored {len(found)} "
        f"(of which not acknowledged {len(unacked)})",
        f"acknowledged and stored exactly once, in their tenant, under their tracking id: {exact}; "
        f"missing {len(missing)}, stored more than once {len(twice)}, wrong tenant or tracking id "
        f"{len(elsewhere)}",
        f"status and timeline events match the acknowledged transitions: {stored - len(wrong_state)} of "
        f"{stored}; mismatched {len(wrong_state)}",
    ]
    for label, refs in (
        ("missing", missing),
        ("twice", twice),
        ("elsewhere", elsewhere),
        ("state", wrong_state),
    ):
        for ref in refs[:5]:
            complaint = acked.get(ref)
            expected = (complaint.status, 1 + complaint.steps) if complaint else None
            lines.append(f"    {label}: {ref} expected {expected} found {found.get(ref)}")
    ok = not (missing or twice or elsewhere or wrong_state)
    lines.append(f"every acknowledged complaint stored exactly once: {'yes' if ok else 'NO'}")
    return lines


# --- report ------------------------------------------------------------------------------------


def latency_line(label: str, seconds: list[float], elapsed: float, extra: str = "") -> str:
    if not seconds:
        return f"  {label:<12} none"
    ms = [s * 1000 for s in seconds]
    return (
        f"  {label:<12} {len(ms):7d} req {len(ms) / elapsed:7.1f} req/s  "
        f"p50 {percentile(ms, 0.50):7.1f} ms  p95 {percentile(ms, 0.95):7.1f} ms  "
        f"p99 {percentile(ms, 0.99):7.1f} ms  max {max(ms):7.1f} ms{extra}"
    )


def report(stats: Stats, label: str) -> None:
    total = stats.count(*stats.latencies)
    every = [s for values in stats.latencies.values() for s in values]
    errors, races = sum(stats.errors.values()), sum(stats.races.values())
    print(f"{label}: {total} requests in {stats.seconds:.1f} s = {total / stats.seconds:.1f} req/s; "
          f"errors {errors}; race answers {races}")  # fmt: skip
    for group, ops in GROUPS.items():
        for op in ops:
            if len(ops) > 1 and op in stats.latencies:
                op_errors = sum(n for (o, _), n in stats.errors.items() if o == op)
                op_races = sum(n for (o, _), n in stats.races.items() if o == op)
                extra = f"  errors {op_errors}" + (
                    f"  race answers {op_races}" if group == "transitions" else ""
                )
                print(latency_line(op, stats.latencies[op], stats.seconds, extra))
        grouped = [s for op in ops for s in stats.latencies.get(op, ())]
        share = len(grouped) / total * 100 if total else 0.0
        print(latency_line(group, grouped, stats.seconds, f"  ({share:.0f}% of requests)"))
    print(latency_line("overall", every, stats.seconds))
    for (op, kind), count in sorted(stats.errors.items()):
        print(f"  error {op} {kind}: {count}  e.g. {stats.examples[(op, kind)]}")
    for (op, kind), count in sorted(stats.races.items()):
        print(f"  race answer (not an error) {op} {kind}: {count}")
    if stats.cpu:
        cpu = stats.cpu
        print(
            f"  busy cores: server ({WORKERS} workers) {cpu['server']:.2f}, client {cpu['client']:.2f}, "
            f"PostgreSQL {cpu['postgres']:.2f}, anything else {cpu['other']:.2f} "
            f"(whole machine {cpu['machine']:.2f} of {os.cpu_count()})"
        )


# --- main --------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seed", type=int, default=4, help="submissions per tenant before the measured run")
    parser.add_argument("--provision-tasks", type=int, default=8)
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(load_line())
    print(background_line())
    print(client_note())
    print(
        f"workload: {args.clients} clients (one keep-alive connection each) for {args.seconds:.0f} s over "
        f"{REGENCIES + 2} tenant hosts; uvicorn --workers {WORKERS}, rate limits off"
    )

    with scratch_database(admin_url, "bench") as url:
        clients, provisioned, registered = await provision(url, args.provision_tasks)
        print(
            f"setup: {len(clients)} tenants provisioned in {provisioned:.1f} s "
            f"({args.provision_tasks} at a time), {len(clients)} OAuth clients registered in "
            f"{registered:.1f} s"
        )
        port = free_port()
        server = start_server(url, port)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                await wait_ready(http, server)
            started = time.perf_counter()
            sites = await prepare_sites(port, clients)
            took = time.perf_counter() - started
            print(f"setup: {len(sites)} tokens from /oauth/token and units created in {took:.1f} s")
            workload = Workload(sites, port, secrets.token_hex(4))
            connections = [await Connection.open(port) for _ in range(args.clients)]
            seeded = await workload.seed(connections, args.seed)
            report(seeded, f"seed ({args.seed} submissions per tenant, half verified; also the warm-up)")
            meter = CpuMeter(server.pid, make_url(url).database or "")
            measured = await workload.drive(connections, args.seconds, meter)
            report(measured, "measured")
        finally:
            server.terminate()
            server.wait(timeout=30)
        for line in check_stored(url, workload):
            print(line)
    errors = sum(seeded.errors.values()) + sum(measured.errors.values())
    print(f"errors (seed and measured): {errors} (target 0): {'met' if errors == 0 else 'NOT met'}")
    print(load_line())


if __name__ == "__main__":
    uvloop.run(main())
