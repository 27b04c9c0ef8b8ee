"""The attacks of bench/dos.py (see there): setup, one method per issue 9 item, the verdicts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from _common import load_line, machine_line, percentile
from dos_wire import (
    MIB,
    Addresses,
    GraphQLWs,
    Sampler,
    Slow,
    Window,
    WsClosed,
    dribble,
    error_codes,
    http_client,
    oversized,
)
from graphql import (
    FragmentDefinitionNode,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    print_ast,
)
from psycopg import sql
from rss import free_port

from lapor.auth.accounts import create_client, create_user, grant_role
from lapor.auth.roles import Role
from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.validation import TenantSpec, schema_name_for

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = secrets.token_hex(32)
REDIRECT = "http://localhost:9999/callback"
PASSWORD = "kata-sandi-bench-dos-123"
SEARCH = (
    'query Search { publicComplaints(first: 100, filter: {search: "sampah"}) '
    "{ edges { node { trackingId title status submittedAt } } } }"
)
LEAVER = (
    'query Leaver { publicComplaints(first: 100, filter: {search: "sampah", kind: [COMPLAINT]}) '
    "{ edges { node { trackingId title status submittedAt } } } }"
)
"""The same search with one more condition, so its statement is told apart in pg_stat_activity."""
LEAVER_MARKER = "kind IN"
CHEAP = "query Cheap { publicComplaints(first: 5) { edges { node { trackingId } } } }"
TENANT = "query T { tenant { slug } }"
EVENTS = "subscription E { complaintEvents { trackingId action } }"
SEARCH_BOUND = 5.0
"""Seconds within which a search must be answered (or refused) for item 3 to hold."""
VICTIM_P95_BOUND = 1.0
RSS_BOUND_MIB = 300.0
ARGON2_FREE_CPU = 0.020
"""Server CPU seconds per request under which a request did no argon2 (one takes ~0.1-0.3 s)."""
LOGIN_WAIT_BOUND = 10.0
"""Seconds within which 40 simultaneous logins must all be answered when none is refused."""
CUT_BOUND = 20.0
"""Seconds within which a slow connection must be cut (nginx's own defaults are 60 s per read)."""
REVOKE_GRACE = 35.0
"""Seconds a revoked token's subscriptions get to end before the next event is sent (the server
checks every ``LAPOR_WS_AUTH_RECHECK``, 30 s by default); watched while items 7 and 12 run."""
PACE = 50
"""Websocket operations in flight at once (strawberry refuses more per connection, uncoded)."""
HOSTS_7C = 10


def submit_fields(alias: str, n: int, label: str) -> str:
    return (
        f'{alias}: submitComplaint(input: {{title: "Uji beban {label} {n}", '
        f'body: "Lampu jalan di depan pasar mati sejak seminggu, nomor {n}.", '
        "kind: COMPLAINT, channel: WEB}) "
        "{ trackingId errors { code } }"
    )


def aliased_submissions(count: int, label: str) -> str:
    return "mutation M { " + " ".join(submit_fields(f"s{i}", i, label) for i in range(count)) + " }"


def aliased_introspection(count: int) -> str:
    """The standard full introspection query with ``count`` aliased copies of ``__schema``."""
    document = parse(get_introspection_query(descriptions=True))
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    schema_field = print_ast(operation.selection_set.selections[0])
    fragments = [print_ast(d) for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    copies = " ".join(f"s{i}: {schema_field}" for i in range(count))
    return "query IntrospectionQuery { " + copies + " }\n" + "\n".join(fragments)


# --- setup --------------------------------------------------------------------------------------


@dataclass
class World:
    run: str
    port: int = 0
    database: str = ""
    hosts: dict[str, str] = field(default_factory=dict)
    """role -> host name (``<slug>.localhost``)."""
    schemas: dict[str, str] = field(default_factory=dict)
    machine: dict[str, tuple[str, str]] = field(default_factory=dict)
    """role -> (client id, secret) of a client_credentials client with complaints:read."""
    staff_app: str = ""
    staff_email: str = ""
    seeded: float = 0.0
    seeded_count: int = 0
    provisioned: float = 0.0


ROLES = ("search", "victim", "oauth", "ws", "cost", *(f"h{i}" for i in range(1, HOSTS_7C + 1)), "slow")


async def provision(url: str, world: World, complaints: int) -> None:
    db = Database(url, Settings(secret_key=SECRET_KEY), pool_size=2)
    try:
        await upgrade_public(db)
        provisioner = Provisioner(db, "localhost")
        started = time.perf_counter()
        await provisioner.create(TenantSpec(f"dos{world.run}-nas", "Nasional", "NATIONAL"))
        province = f"dos{world.run}-prov"
        await provisioner.create(
            TenantSpec(province, "Provinsi Uji", "PROVINCE", region_code="53", time_zone="Asia/Makassar")
        )
        for number, role in enumerate(ROLES, start=1):
            slug = f"dos{world.run}-{role}"
            await provisioner.create(
                TenantSpec(
                    slug, f"Kabupaten Uji {role}", "REGENCY", parent=province, region_code=f"53.{number:02d}",
                    time_zone="Asia/Makassar",
                )
            )  # fmt: skip
            world.hosts[role] = f"{slug}.localhost"
            world.schemas[role] = schema_name_for(slug)
        world.provisioned = time.perf_counter() - started
        for role in ("oauth", "ws"):
            client, secret = await create_client(
                db, name=f"Mesin {role}", scopes=frozenset({"complaints:read"}),
                tenant_slug=f"dos{world.run}-{role}",
            )  # fmt: skip
            assert secret is not None
            world.machine[role] = (client.client_id, secret)
        app, _secret = await create_client(
            db, name="Aplikasi staf", scopes=frozenset({"complaints:read"}),
            tenant_slug=f"dos{world.run}-oauth", grant_types=("authorization_code",),
            redirect_uris=(REDIRECT,),
        )  # fmt: skip
        world.staff_app = app.client_id
        world.staff_email = f"staf-{world.run}@example.go.id"
        await create_user(db, world.staff_email, "Staf Uji", PASSWORD)
        await grant_role(db, world.staff_email, f"dos{world.run}-oauth", Role.VIEWER)
    finally:
        await db.dispose()
    started = time.perf_counter()
    seed_complaints(url, world.schemas["search"], complaints)
    world.seeded = time.perf_counter() - started
    world.seeded_count = complaints


def seed_complaints(url: str, schema: str, count: int) -> None:
    """``count`` public complaints in one statement, as the superuser. Every body says "sampah"
    (a common word is the costly search: the planner reads the whole table for it instead of the
    index), and has a few md5 words so the lexemes vary like real text.

    A ``tsvector`` column the search work may add is filled with the same expression the index
    would use if it is a plain column; a generated column fills itself."""
    with psycopg.connect(url, autocommit=True) as conn:
        plain_vectors = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'complaint' AND udt_name = 'tsvector' AND is_generated = 'NEVER'",
                (schema,),
            )
        ]
        body = sql.SQL(
            "(ARRAY['Tumpukan sampah di pinggir jalan dekat pasar tidak diangkut',"
            " 'Sampah menyumbat saluran air di depan sekolah sehingga banjir',"
            " 'Truk sampah tidak datang ke kompleks perumahan',"
            " 'Jalan berlubang di dekat tempat pembuangan sampah belum diperbaiki'])[1 + mod(g, 4)]"
            " || ' sudah ' || (mod(g, 17) + 2) || ' minggu. Warga RT ' || mod(g, 40) || "
            "' mengeluhkan bau dan lalat, anak-anak sering sakit, petugas kelurahan sudah dihubungi "
            "berkali-kali tetapi belum ada tindakan. Mohon dinas terkait segera meninjau lokasi dan "
            "memberi jadwal yang jelas. Kode '"
            " || md5(g::text) || ' ' || md5((g * 7)::text) || ' ' || substr(md5((g * 13)::text), 1, 9)"
        )
        title = sql.SQL("'Keluhan warga nomor ' || g")
        columns = [
            "tracking_id", "access_code_hash", "kind", "channel", "status", "title", "body", "region_code",
            "submitted_at", "verified_at",
        ]  # fmt: skip
        values = [
            sql.SQL("'DOS-2026-' || lpad(g::text, 6, '0')"), sql.SQL("'seeded-not-a-hash'"),
            sql.SQL("'COMPLAINT'"), sql.SQL("'WEB'"),
            sql.SQL("(ARRAY['VERIFIED','IN_PROGRESS','RESPONDED','CLOSED'])[1 + mod(g, 4)]"), title, body,
            sql.SQL("'53.01'"), sql.SQL("now() - g * interval '1 minute'"),
            sql.SQL("now() - g * interval '1 minute' + interval '1 hour'"),
        ]  # fmt: skip
        for column in plain_vectors:
            columns.append(column)
            values.append(
                sql.SQL("to_tsvector('simple'::regconfig, ({}) || ' ' || ({}))").format(title, body)
            )
        statement = sql.SQL(
            "INSERT INTO {}.complaint ({}) SELECT {} FROM generate_series(1, %s) AS g"
        ).format(
            sql.Identifier(schema),
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(values),
        )
        conn.execute(statement, (count,))
        conn.execute(sql.SQL("ANALYZE {}.complaint").format(sql.Identifier(schema)))
    if plain_vectors:
        print(
            f"note: filled the plain tsvector column(s) {plain_vectors} with "
            "to_tsvector('simple', title || ' ' || body)"
        )


def complaint_count(url: str, schema: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.complaint").format(sql.Identifier(schema))
        ).fetchone()
    return int(row[0]) if row else 0


def start_server(url: str, port: int, data_dir: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``lapor serve`` itself (migrations check, then uvicorn in this one process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update(
        LAPOR_DATABASE_URL=url, LAPOR_REDIS_URL=REDIS_URL, LAPOR_BASE_DOMAIN="localhost",
        LAPOR_SECRET_KEY=SECRET_KEY, LAPOR_LOG_LEVEL="WARNING", LAPOR_DATA_DIR=data_dir,
    )  # fmt: skip
    command = [str(Path(sys.executable).with_name("lapor")), "serve", "--port", str(port)]
    log = log_path.open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:]


async def wait_ready(port: int, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5, trust_env=False) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited ({server.returncode}):\n{tail(log_path)}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready within 60 s")


# --- requests -----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None
    seconds: float
    body: Any = None
    headers: httpx.Headers | None = None
    size: int = 0
    failure: str = ""

    @property
    def codes(self) -> list[str]:
        return error_codes(self.body) if isinstance(self.body, dict) else []

    @property
    def charged(self) -> int | None:
        """Points this request took from a fresh bucket (Limit - Remaining)."""
        if self.headers is None or "ratelimit-remaining" not in self.headers:
            return None
        return int(self.headers["ratelimit-limit"]) - int(self.headers["ratelimit-remaining"])

    @property
    def refused(self) -> bool:
        return self.status == 429 or bool(self.codes)

    def outcome(self) -> str:
        if self.failure:
            return self.failure
        return f"{self.status}" + (f" {'/'.join(sorted(set(self.codes)))}" if self.codes else "")


async def post(
    client: httpx.AsyncClient,
    host: str,
    query: str,
    within: float = 30.0,
    variables: dict[str, Any] | None = None,
) -> Answer:
    started = time.perf_counter()
    try:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers={"host": host},
            timeout=within,
        )  # fmt: skip
    except httpx.TimeoutException:
        return Answer(None, time.perf_counter() - started, failure=f"no answer in {within:.0f} s")
    except httpx.TransportError as error:
        return Answer(None, time.perf_counter() - started, failure=type(error).__name__)
    seconds = time.perf_counter() - started
    try:
        body = response.json()
    except ValueError:
        body = response.text[:200]
    return Answer(response.status_code, seconds, body, response.headers, len(response.content))


def edges(answer: Answer, field_name: str = "publicComplaints") -> int:
    data = answer.body.get("data") if isinstance(answer.body, dict) else None
    return len(((data or {}).get(field_name) or {}).get("edges") or [])


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def yes(held: bool) -> str:
    return "yes" if held else "no"


@dataclass
class Verdict:
    item: str
    work: str
    held: bool
    reason: str


class Bench:
    def __init__(self, world: World, sampler: Sampler, url: str) -> None:
        self.world = world
        self.sampler = sampler
        self.url = url
        self.ips = Addresses()
        self.verdicts: list[Verdict] = []
        self.pending: list[tuple[Verdict, asyncio.Task[tuple[int, str]]]] = []

    def client(self, timeout: float = 30.0, **kwargs: Any) -> httpx.AsyncClient:
        return http_client(self.world.port, self.ips.fresh(), timeout, **kwargs)

    # --- item 3 -------------------------------------------------------------------------------

    async def item3(self, searchers: int, seconds: float, within: float) -> None:
        print(f"\n== item 3: public full-text search, {self.world.seeded_count} complaints in one tenant")
        host, victim_host = self.world.hosts["search"], self.world.hosts["victim"]
        async with self.client() as one:
            with self.sampler.window() as alone:
                single = await post(one, host, SEARCH, within)
        print(
            f"one search alone (cold): {single.outcome()} in {ms(single.seconds)}, {edges(single)} results, "
            f"{single.charged} points; DB CPU {ms(alone.db_cpu)}, server CPU {ms(alone.server_cpu)}"
        )
        if not single.codes and edges(single) == 0:
            print("warning: the search found nothing: the seed did not reach what the search reads")
        async with self.client() as victim:
            baseline = [await post(victim, victim_host, CHEAP) for _ in range(5)]

        # A sustained attack, not one burst: psycopg prepares a statement on its 5th run on a
        # connection and PostgreSQL may then switch to a generic plan, so the first searches on
        # each pooled connection can be much cheaper than the ones after.
        stop, ending = asyncio.Event(), asyncio.Event()
        answers: list[Answer] = []
        during: list[Answer] = []

        async def searcher() -> None:
            """One attacking address: searches until the time is up or it is told to wait (429)."""
            async with self.client() as client:
                while not ending.is_set():
                    answer = await post(client, host, SEARCH, within)
                    answers.append(answer)
                    if answer.status == 429:
                        return

        async def probe(client: httpx.AsyncClient) -> None:
            while not stop.is_set():
                during.append(await post(client, victim_host, CHEAP, within))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)

        async with self.client() as victim:
            with self.sampler.window() as burst:
                prober = asyncio.create_task(probe(victim))
                workers = [asyncio.create_task(searcher()) for _ in range(searchers)]
                await asyncio.sleep(seconds / 2)
                outlived = await self._disconnect(host)
                await asyncio.sleep(max(0.0, seconds / 2 - 2.0))
                ending.set()
                _done, pending = await asyncio.wait(workers, timeout=within)
                for task in pending:  # bounded: in-flight searches get at most ``within`` more
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                stop.set()
                await prober
            left = self.sampler.running_searches()
        if left:
            self.sampler.cancel([pid for pid, _ in left])
        cut_off = len(pending)

        outcomes = Counter(a.outcome() for a in answers)
        served = [a for a in answers if a.status == 200 and not a.codes]
        slow = [a for a in served if a.seconds > SEARCH_BOUND] + [a for a in answers if a.failure]
        walls = [a.seconds for a in answers] or [0.0]
        tenth = max(1, len(answers) // 10)
        base_ms = statistics.median(a.seconds for a in baseline)
        victim_seconds = [a.seconds for a in during] or [0.0]
        victim_bad = [a for a in during if a.status != 200 or a.codes or a.failure]
        victim_p95 = percentile(victim_seconds, 0.95)
        executed = [a for a in answers if a.status != 429]
        per_search = burst.db_cpu / max(1, len(executed))
        server_per_search = burst.server_cpu / max(1, len(answers))
        print(
            f"{searchers} searchers for {seconds:.0f} s (one address each, no token; each stops at its first "
            f"429): {len(answers)} searches, "
            f"{dict(outcomes)}"
            + (f", {cut_off} still waiting after {within:.0f} s more (given up)" if cut_off else "")
        )
        print(
            f"  wall p50 {ms(statistics.median(walls))} p95 {ms(percentile(walls, 0.95))} "
            f"max {ms(max(walls))}; "
            f"first tenth p50 {ms(statistics.median(walls[:tenth]))}, last tenth p50 "
            f"{ms(statistics.median(walls[-tenth:]))}"
        )
        print(
            f"  DB CPU {burst.db_cpu:.1f} s = {ms(per_search)} per search run (429s excluded); "
            f"server CPU {burst.server_cpu:.1f} s = {ms(server_per_search)} per search; "
            f"longest search statement {burst.search_longest:.1f} s; at most {burst.search_active_peak} "
            f"running at once on {burst.backends_peak} backends; {burst.seconds:.0f} s in all"
        )
        print(
            f"  other tenant, cheap query every 0.2 s: before median {ms(base_ms)}; during {len(during)} "
            f"requests p50 {ms(statistics.median(victim_seconds))} p95 {ms(victim_p95)} "
            f"max {ms(max(victim_seconds))}, failed {len(victim_bad)}"
        )
        print(
            f"  search statements still running after the searchers stopped: {len(left)} "
            "(cancelled by the bench)"
        )
        reasons = []
        if slow:
            reasons.append(
                f"{len(slow)} of {len(answers)} searches took over {SEARCH_BOUND:.0f} s or got no answer"
            )
        if outlived:
            reasons.append("a search kept running after its client left")
        if left:
            reasons.append(f"{len(left)} statements outlived their clients")
        if victim_p95 > VICTIM_P95_BOUND or victim_bad:
            reasons.append(f"the other tenant's p95 was {ms(victim_p95)} with {len(victim_bad)} failures")
        held = not reasons
        if held:
            reasons.append(f"every search answered within {SEARCH_BOUND:.0f} s or refused")
            reasons.append(f"other tenant p95 {ms(victim_p95)}")
        refusals = ", ".join(f"{o} x{n}" for o, n in outcomes.items() if o != "200") or "none"
        reasons.append(f"{single.charged} point(s) per search; refused: {refusals}")
        self.verdicts.append(
            Verdict("3 search", f"{ms(per_search)} DB CPU + {ms(server_per_search)} server CPU per search "
                    f"under attack ({ms(alone.db_cpu)} DB alone)", held, "; ".join(reasons))
        )  # fmt: skip

    async def _disconnect(self, host: str) -> bool:
        """Mid-attack, one search whose client leaves after a second: does its statement go on?"""
        async with self.client() as leaver:
            task = asyncio.create_task(post(leaver, host, LEAVER, 30))
            done, _pending = await asyncio.wait({task}, timeout=1.0)
            if done:
                answer = task.result()
                print(
                    f"  a client leaving its search after 1 s: not needed (answered in {ms(answer.seconds)})"
                )
                return False
            before = self.sampler.running_searches(LEAVER_MARKER)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not before:
            print(
                "  a client leaving its search after 1 s (mid-attack): its statement was not seen running "
                f"(still waiting for a connection, or no statement with {LEAVER_MARKER!r}): not judged"
            )
            return False
        await asyncio.sleep(1.0)
        running = self.sampler.running_searches(LEAVER_MARKER)
        if running:
            self.sampler.cancel([pid for pid, _ in running])
        print(
            "  a client leaving its search after 1 s (mid-attack): its statement "
            + (
                f"still ran 1 s later ({max(s for _, s in running):.1f} s old; cancelled by the bench)"
                if running
                else "was gone 1 s later"
            )
        )
        return bool(running)

    # --- item 5 -------------------------------------------------------------------------------

    async def item5(self) -> None:
        print("\n== item 5: argon2 amplification (wrong client secrets, wrong passwords)")
        host = self.world.hosts["oauth"]
        client_id, _secret = self.world.machine["oauth"]
        count = 40
        reasons: list[str] = []
        works: list[str] = []
        held = True
        for path in ("/oauth/introspect", "/oauth/revoke"):
            async with self.client() as attacker:
                with self.sampler.window() as window:
                    answers = await asyncio.gather(
                        *(
                            attacker.post(
                                path, headers={"host": host},
                                data={"token": "bukan-token-sungguhan", "token_type_hint": "access_token"},
                                auth=(client_id, f"salah-{i}-{secrets.token_urlsafe(30)}"),
                            )
                            for i in range(count)
                        ),
                        return_exceptions=True,
                    )  # fmt: skip
            await asyncio.sleep(1.0)
            after = self.sampler.server.memory_info().rss / MIB
            statuses = Counter(
                a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers
            )
            per_request = window.server_cpu / count
            growth = window.rss_peak - window.rss_before
            light = per_request < ARGON2_FREE_CPU
            print(
                f"{count} x {path} at once, real client id, wrong secrets (one address): statuses "
                f"{dict(statuses)} in {window.seconds:.2f} s; server CPU {ms(per_request)} per request; RSS "
                f"{window.rss_before:.0f} -> peak {window.rss_peak:.0f} -> {after:.0f} MiB 1 s later"
            )  # fmt: skip
            held = held and growth < RSS_BOUND_MIB and (light or statuses.get(429, 0) > 0)
            name = path.rsplit("/", 1)[1]
            reasons.append(
                f"{name} RSS +{growth:.0f} MiB, {'no argon2' if light else 'argon2 per request'}, "
                f"{statuses.get(429, 0)} x 429"
            )
            works.append(f"{name} {ms(per_request)}")

        url = (
            f"/oauth/authorize?response_type=code&client_id={self.world.staff_app}"
            f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}&code_challenge_method=S256"
        )
        clients = [self.client() for _ in range(count)]
        try:
            forms = await asyncio.gather(*(self._login_form(c, url, host) for c in clients))
            ready = [(c, f) for c, f in zip(clients, forms, strict=True) if f is not None]
            with self.sampler.window() as login:
                posted = await asyncio.gather(
                    *(
                        c.post(
                            "/oauth/authorize", headers={"host": host},
                            data={
                                **f, "email": self.world.staff_email, "password": f"salah-{i:03d}-kata",
                                "decision": "approve",
                            },
                        )
                        for i, (c, f) in enumerate(ready)
                    ),
                    return_exceptions=True,
                )  # fmt: skip
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        await asyncio.sleep(1.0)
        login_after = self.sampler.server.memory_info().rss / MIB
        login_statuses = Counter(
            p.status_code if isinstance(p, httpx.Response) else type(p).__name__ for p in posted
        )
        per_login = login.server_cpu / max(1, len(ready))
        print(
            f"{len(ready)} wrong passwords at once on the login form ({len(ready)} addresses, one account; "
            f"{count - len(ready)} forms not served): statuses {dict(login_statuses)} "
            f"in {login.seconds:.2f} s; "
            f"server CPU {ms(per_login)} per request; RSS {login.rss_before:.0f} -> peak "
            f"{login.rss_peak:.0f} -> {login_after:.0f} MiB 1 s later"
        )  # fmt: skip
        login_growth = login.rss_peak - login.rss_before
        # Passwords need argon2; what must hold is its memory (a bounded number at once) and that
        # the rest are refused (429) or wait briefly, not queue for ever.
        held = (
            held
            and login_growth < RSS_BOUND_MIB
            and (login_statuses.get(429, 0) > 0 or login.seconds <= LOGIN_WAIT_BOUND)
        )
        reasons.append(
            f"login RSS +{login_growth:.0f} MiB, {login_statuses.get(429, 0)} x 429 of {len(ready)}, "
            f"all answered in {login.seconds:.1f} s"
        )
        works.append(f"login {ms(per_login)}")
        self.verdicts.append(Verdict("5 argon2", ", ".join(works) + " server CPU", held, "; ".join(reasons)))

    async def _login_form(self, client: httpx.AsyncClient, url: str, host: str) -> dict[str, str] | None:
        import re

        page = await client.get(url, headers={"host": host})
        if page.status_code != 200:
            return None
        found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
        return {k: v.replace("&amp;", "&").replace("&quot;", '"') for k, v in found}

    # --- item 6 -------------------------------------------------------------------------------

    async def item6(self) -> None:
        print("\n== item 6: the websocket (graphql-transport-ws)")
        port, host = self.world.port, self.world.hosts["ws"]
        schema = self.world.schemas["ws"]
        probe_cost = await self._probe_cost(host)
        anonymous = await self._anonymous_subscription(port, host)
        print(f"one subscription without a token (fresh address): {anonymous}")

        address = self.ips.fresh()
        ops = [f"q{i}" for i in range(400)]
        with self.sampler.window() as queries_window:
            started = time.perf_counter()
            try:
                ws = await GraphQLWs.open(port, host, address)
            except WsClosed as refused:
                accepted, refusals, closed, heard = (
                    0,
                    Counter({f"connection refused: {refused}": 400}),
                    None,
                    400,
                )
            else:
                await self._paced(ws, [(op, TENANT) for op in ops])
                accepted = sum(1 for op in ops if self._has_data(ws, op))
                refusals = self._refusals(ws, ops)
                closed = ws.outcome.closed
                heard = sum(1 for op in ops if op in ws.outcome.nexts or ws.answered(op))
                await ws.close()
            elapsed = time.perf_counter() - started
        query_points = await self._spent(address, host, probe_cost)
        print(
            f"400 queries on one connection, no token, at most {PACE} in flight: {accepted} answered "
            "with data, "
            f"refused {dict(refusals) or 0}, unanswered {400 - heard}"
            f"{f', connection closed {closed.code} {closed.reason}' if closed else ''} in {elapsed:.2f} s; "
            f"server CPU {ms(queries_window.server_cpu / 400)} per query; the address's HTTP bucket was "
            f"charged {query_points} points"
        )

        address = self.ips.fresh()
        before = complaint_count(self.url, schema)
        mops = [f"m{i}" for i in range(20)]
        with self.sampler.window() as mutation_window:
            try:
                ws = await GraphQLWs.open(port, host, address)
            except WsClosed as refused:
                codes, mutations_closed = Counter({f"connection refused: {refused}": 20}), None
            else:
                await self._paced(ws, [(op, aliased_submissions(10, f"ws{i}")) for i, op in enumerate(mops)])
                codes, mutations_closed = self._refusals(ws, mops), ws.outcome.closed
                if mutations_closed is not None:
                    codes[f"connection closed {mutations_closed.code} {mutations_closed.reason}"] += 1
                await ws.close()
        filed = complaint_count(self.url, schema) - before
        submit_points = await self._spent(address, host, probe_cost)
        print(
            f"20 messages x 10 aliased submitComplaint, no token: {filed} complaints filed of 200, refusals "
            f"{dict(codes) or 0}; server CPU {ms(mutation_window.server_cpu / 200)}, DB CPU "
            f"{ms(mutation_window.db_cpu / 200)} per submission; the address's HTTP bucket was charged "
            f"{submit_points} points"
        )

        subscribed = await self._subscriptions(port, host)
        print(subscribed["line"])
        print(subscribed["line2"])
        # Charged: the refusals carry a code and the queries that ran spent from the HTTP bucket (or
        # queries are refused over the websocket altogether).
        queries_held = (accepted == 0 and bool(refusals or closed)) or (
            query_points is not None and query_points >= accepted and accepted < 400
        )
        submissions_held = (filed == 0 and bool(codes)) or (
            submit_points is not None and submit_points >= filed and filed < 200
        )
        capped = subscribed["acked"] < 30 or subscribed["alive"] < subscribed["acked"] * 100
        reasons = [
            f"queries {accepted}/400 ran for {query_points} points",
            f"submissions {filed}/200 filed for {submit_points} points",
            f"{subscribed['acked']}/30 connections, {subscribed['alive']}/{subscribed['acked'] * 100} "
            f"subscriptions live ({'capped' if capped else 'no cap'})",
        ]
        verdict = Verdict(
            "6 websocket", f"{ms(queries_window.server_cpu / 400)} server CPU per query, "
            f"{ms((mutation_window.server_cpu + mutation_window.db_cpu) / 200)} per submission",
            queries_held and submissions_held and capped, "; ".join(reasons),
        )  # fmt: skip
        self.verdicts.append(verdict)
        self.pending.append((verdict, subscribed["watch"]))

    async def finish(self) -> None:
        """Wait for the background watches (item 6's revocation) and complete their verdicts."""
        for verdict, watch in self.pending:
            after, what = await watch
            print(f"\n== item 6, later: {what}")
            verdict.held = verdict.held and after == 0
            verdict.reason += f"; token revoked: {what}"
        self.pending.clear()

    async def _probe_cost(self, host: str) -> int | None:
        """Points of one cheap HTTP query (``TENANT``) on a fresh bucket."""
        async with self.client() as client:
            return (await post(client, host, TENANT)).charged

    async def _spent(self, address: str, host: str, probe_cost: int | None) -> int | None:
        """Points ``address`` had spent on ``host`` before this HTTP probe (the websocket shares the
        bucket if it is charged at all); None if the answer carries no RateLimit headers."""
        async with http_client(self.world.port, address) as client:
            answer = await post(client, host, TENANT)
        if answer.headers is None or "ratelimit-remaining" not in answer.headers or probe_cost is None:
            return None
        if answer.status == 429:
            return int(answer.headers["ratelimit-limit"])
        return (
            int(answer.headers["ratelimit-limit"]) - int(answer.headers["ratelimit-remaining"]) - probe_cost
        )

    @staticmethod
    async def _paced(ws: GraphQLWs, operations: list[tuple[str, str]]) -> None:
        """Send in waves of ``PACE``, each answered (or 5 s) before the next: strawberry's cap on
        operations in flight per connection never refuses them, only a charge can."""
        for start in range(0, len(operations), PACE):
            wave = operations[start : start + PACE]
            for op, query in wave:
                if not await ws.subscribe(op, query):
                    return
            await ws.wait([op for op, _ in wave], 5.0)
            if ws.outcome.closed is not None:
                return

    @staticmethod
    def _has_data(ws: GraphQLWs, op: str) -> bool:
        return any(p.get("data") and not p.get("errors") for p in ws.outcome.nexts.get(op, []))

    @staticmethod
    def _refusals(ws: GraphQLWs, ops: list[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        for op in ops:
            if op in ws.outcome.errors:
                found.update(error_codes(ws.outcome.errors[op]))
            else:
                found.update(c for p in ws.outcome.nexts.get(op, []) for c in error_codes(p))
        return found

    async def _anonymous_subscription(self, port: int, host: str) -> str:
        try:
            ws = await GraphQLWs.open(port, host, self.ips.fresh())
        except WsClosed as refused:
            return f"connection refused ({refused})"
        try:
            await ws.subscribe("anon", EVENTS)
            await ws.wait(["anon"], 2.0)
            if "anon" in ws.outcome.errors:
                return f"refused {error_codes(ws.outcome.errors['anon'])}"
            if ws.outcome.nexts.get("anon"):
                return (
                    f"answered {[c for p in ws.outcome.nexts['anon'] for c in error_codes(p)] or 'with data'}"
                )
            if ws.outcome.closed is not None:
                return f"connection closed {ws.outcome.closed.code} {ws.outcome.closed.reason}"
            return "accepted (no error within 2 s)"
        finally:
            await ws.close()

    async def _subscriptions(self, port: int, host: str) -> dict[str, Any]:
        client_id, secret = self.world.machine["ws"]
        async with self.client() as http:
            answer = await http.post(
                "/oauth/token", data={"grant_type": "client_credentials", "scope": "complaints:read"},
                auth=(client_id, secret), headers={"host": host},
            )  # fmt: skip
            answer.raise_for_status()
            token = answer.json()["access_token"]
        address = self.ips.fresh()
        payload = {"Authorization": f"Bearer {token}"}
        with self.sampler.window() as window:
            opened = await asyncio.gather(
                *(GraphQLWs.open(port, host, address, payload) for _ in range(30)), return_exceptions=True
            )
            sockets = [o for o in opened if isinstance(o, GraphQLWs)]
            refused = Counter(f"{o.code} {o.reason}".strip() for o in opened if isinstance(o, WsClosed))
            for ws in sockets:
                for n in range(100):
                    if not await ws.subscribe(f"e{n}", EVENTS):
                        break
            await asyncio.sleep(1.5)
            alive, ended = self._live(sockets)
            delivered = await self._event_round(sockets)
            async with self.client() as http:
                revoked = await http.post(
                    "/oauth/revoke", data={"token": token, "token_type_hint": "access_token"},
                    auth=(client_id, secret), headers={"host": host},
                )  # fmt: skip
        line = (
            f"30 connections from one address with one token: {len(sockets)} accepted"
            f"{f', refused {dict(refused)}' if refused else ''}; x 100 complaintEvents each: {alive} live, "
            f"ended {dict(ended) or 0}; RSS peak +{window.rss_peak - window.rss_before:.0f} MiB"
        )
        line2 = f"one event: {delivered} deliveries; token revoked ({revoked.status_code})"
        # The server may end them at a periodic check (30 s by default): the watch goes on in the
        # background while items 7 and 12 run, and run() waits for it at the end.
        watch = asyncio.create_task(self._after_revocation(sockets, alive))
        return {"acked": len(sockets), "alive": alive, "watch": watch, "line": line, "line2": line2}

    async def _after_revocation(self, sockets: list[GraphQLWs], alive: int) -> tuple[int, str]:
        """Wait up to ``REVOKE_GRACE`` for the revoked token's subscriptions to end, then send an
        event; (deliveries after the revocation, what happened)."""
        revoked_at = time.perf_counter()
        still = alive
        try:
            while still and time.perf_counter() - revoked_at < REVOKE_GRACE:
                await asyncio.sleep(0.25)
                still, _ended = self._live(sockets)
            waited = time.perf_counter() - revoked_at
            after = await self._event_round(sockets)
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))
        return after, (
            f"{alive - still} of {alive} subscriptions ended within {waited:.1f} s of the revocation; "
            f"another event then: {after} deliveries"
        )

    @staticmethod
    def _live(sockets: list[GraphQLWs]) -> tuple[int, Counter[str]]:
        """Subscriptions ``e0``..``e99`` still live on ``sockets``, and how the others ended."""
        ended: Counter[str] = Counter()
        alive = 0
        for ws in sockets:
            for n in range(100):
                op = f"e{n}"
                if op in ws.outcome.errors:
                    ended.update(error_codes(ws.outcome.errors[op]))
                elif op in ws.outcome.completed:
                    ended["complete"] += 1
                elif ws.outcome.closed is not None:
                    ended[f"closed {ws.outcome.closed.code}"] += 1
                else:
                    alive += 1
        return alive, ended

    async def _event_round(self, sockets: list[GraphQLWs]) -> int:
        """Submit one complaint on the ws tenant; count deliveries to the open subscriptions."""
        before = sum(len(v) for ws in sockets for v in ws.outcome.nexts.values())
        async with self.client() as http:
            await post(http, self.world.hosts["ws"], aliased_submissions(1, "event"))
        await asyncio.sleep(2.0)
        return sum(len(v) for ws in sockets for v in ws.outcome.nexts.values()) - before

    # --- item 7 -------------------------------------------------------------------------------

    async def item7(self) -> None:
        print("\n== item 7: the cost model (points charged vs work done)")
        host, schema = self.world.hosts["cost"], self.world.schemas["cost"]
        measured: dict[str, tuple[Answer, Window]] = {}
        for label, query in (
            ("1 introspection", aliased_introspection(1)),
            ("30 aliased introspections", aliased_introspection(30)),
        ):
            async with self.client() as client:
                with self.sampler.window() as window:
                    answer = await post(client, host, query)
            measured[label] = (answer, window)
            print(
                f"{label}: {answer.outcome()}, {answer.size / 1024:.0f} KiB in {ms(answer.seconds)}, "
                "server CPU "
                f"{ms(window.server_cpu)}, charged {answer.charged} points"
            )
        before = complaint_count(self.url, schema)
        async with self.client() as client:
            with self.sampler.window() as window:
                submitted = await post(client, host, aliased_submissions(30, "http"))
        filed = complaint_count(self.url, schema) - before
        print(
            f"30 aliased submitComplaint: {submitted.outcome()}, {filed} filed in {ms(submitted.seconds)}, "
            "server "
            f"CPU {ms(window.server_cpu)}, DB CPU {ms(window.db_cpu)}, charged {submitted.charged} points"
        )
        spread = await self._hosts()
        print(spread["line"])
        intro30 = measured["30 aliased introspections"][0]
        intro_held = intro30.refused or (intro30.charged or 0) >= 30
        submit_held = submitted.refused or (submitted.charged or 0) >= 30
        reasons = [
            f"30 introspections ({intro30.size / MIB:.1f} MiB, "
            f"{ms(measured['30 aliased introspections'][1].server_cpu)} "
            f"CPU): {'refused ' + intro30.outcome() if intro30.refused else f'{intro30.charged} points'}",
            f"30 submissions ({filed} filed): "
            + ("refused " + submitted.outcome() if submitted.refused else f"{submitted.charged} points"),
            spread["reason"],
        ]
        self.verdicts.append(
            Verdict(
                "7 cost", f"30 introspections {ms(measured['30 aliased introspections'][1].server_cpu)} CPU "
                f"for {intro30.charged} point(s); 30 submissions {ms(window.server_cpu + window.db_cpu)} "
                f"for {submitted.charged}",
                intro_held and submit_held and spread["held"], "; ".join(reasons),
            )
        )  # fmt: skip

    async def _hosts(self) -> dict[str, Any]:
        """One address spends on ``HOSTS_7C`` tenant hosts at once: does a platform bucket stop it?

        The query is the costliest of a few candidates that runs at all (the cost model decides
        what a document costs and may refuse big ones), so the budgets drain in few requests."""
        chosen: tuple[int, str, int] | None = None
        for aliases in (10, 5, 2, 1):
            page = "publicComplaints(first: 100) { edges { cursor } }"
            document = "query P { " + " ".join(f"a{i}: {page}" for i in range(aliases)) + " }"
            async with self.client() as client:
                probe = await post(client, self.world.hosts["cost"], document)
            if probe.status == 200 and not probe.codes and probe.charged:
                chosen = (aliases, document, probe.charged)
                break
        if chosen is None:
            return {
                "line": "no candidate query ran on a fresh address",
                "held": False,
                "reason": "not measured",
            }
        aliases, document, cost = chosen
        limit = int(probe.headers["ratelimit-limit"]) if probe.headers is not None else 0
        hosts = [self.world.hosts[f"h{i}"] for i in range(1, HOSTS_7C + 1)]
        cap = limit // cost + 5

        async def spend(client: httpx.AsyncClient, host: str) -> tuple[int, str]:
            for accepted in range(cap):
                answer = await post(client, host, document)
                if answer.status == 429 or answer.codes:
                    return accepted, answer.outcome()
            return cap, ""

        async with self.client() as client:
            with self.sampler.window() as window:
                results = await asyncio.gather(*(spend(client, h) for h in hosts))
        per_host = [r[0] for r in results]
        accepted = sum(per_host)
        refusals = Counter(r[1] for r in results if r[1])
        points = accepted * cost
        budget = limit * HOSTS_7C
        capped = any(n == cap for n in per_host)
        # Held when the hosts together gave less than each host's own budget would.
        held = budget > 0 and points < budget * 0.9 and not capped
        line = (
            f"one address on {HOSTS_7C} tenant hosts at once, a {cost}-point query ({aliases} x first: 100): "
            f"accepted {per_host} = {accepted} requests = {points} points (per-tenant limit {limit}, "
            f"x {HOSTS_7C} = {budget}); refusals {dict(refusals) or 0}; server CPU "
            f"{ms(window.server_cpu / max(1, accepted))} per request"
        )  # fmt: skip
        reason = f"one address got {points} points over {HOSTS_7C} hosts " + (
            "(less than their separate budgets: a platform-wide bucket)"
            if held
            else f"(= {HOSTS_7C} separate budgets: no platform-wide bucket)"
        )
        return {"line": line, "held": held, "reason": reason}

    # --- item 12 ------------------------------------------------------------------------------

    async def item12(self, observe: float) -> None:
        print("\n== item 12: slow headers, slow bodies, a 1 MiB header")
        port = self.world.port
        ws_host = self.world.hosts["slow"].encode()
        head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: "
        body_head = (
            b"POST /graphql HTTP/1.1\r\nHost: " + ws_host + b"\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100000\r\n\r\n{"query": "{ tenant { slug } }", "x": "'
        )
        big = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * MIB + b"\r\n\r\n"
        with self.sampler.window() as window:
            slow_heads = [dribble(port, self.ips.fresh(), head, b"abcdefgh", observe) for _ in range(10)]
            slow_bodies = [
                dribble(port, self.ips.fresh(), body_head, b"abcdefgh", observe) for _ in range(10)
            ]
            huge = oversized(port, self.ips.fresh(), big, 5.0)
            results = await asyncio.gather(*slow_heads, *slow_bodies, huge)
        heads, bodies, large = results[:10], results[10:20], results[20]
        async with self.client() as client:
            started = time.perf_counter()
            health = await client.get("/healthz")
            health_ms = ms(time.perf_counter() - started)

        def describe(group: list[Slow]) -> str:
            cut = [r.cut_after for r in group if r.cut_after is not None]
            statuses = Counter(r.status for r in group if r.status is not None)
            return (
                f"{len(cut)} of {len(group)} cut"
                + (
                    f" after {min(cut):.1f}-{max(cut):.1f} s"
                    if cut
                    else f", all still open after {observe:.0f} s"
                )
                + (f", answered {dict(statuses)}" if statuses else "")
            )

        print(f"headers at one byte per 0.5 s (10 connections): {describe(heads)}")
        print(f"body at one byte per 0.5 s (10 connections): {describe(bodies)}")
        print(
            f"1 MiB header: status {large.status}, {large.sent / MIB:.2f} MiB sent"
            + (
                f", closed after {large.cut_after:.2f} s"
                if large.cut_after is not None
                else ", connection left open"
            )
            + (f" ({large.note})" if large.note else "")
        )
        print(
            f"server CPU during: {window.server_cpu:.2f} s; /healthz afterwards {health.status_code} "
            f"in {health_ms}"
        )

        def bounded(group: list[Slow]) -> bool:
            return all(r.cut_after is not None and r.cut_after <= CUT_BOUND for r in group)

        large_held = large.status in (400, 413, 431) or (large.status is None and large.cut_after is not None)
        reasons = [
            f"slow headers {describe(heads)}",
            f"slow bodies {describe(bodies)}",
            "1 MiB header "
            + (f"refused {large.status or 'by closing'}" if large_held else f"answered {large.status}"),
        ]
        self.verdicts.append(
            Verdict(
                "12 slow/large",
                f"{ms(window.server_cpu / 21)} server CPU per connection",
                bounded(heads) and bounded(bodies) and large_held,
                "; ".join(reasons),
            )
        )


def log_problems(lines: list[str]) -> Counter[str]:
    """ERROR lines and each traceback's exception line, counted."""
    found: Counter[str] = Counter()
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            found[line.strip()] += 1
            in_traceback = line.startswith(("During handling", "The above exception"))
        elif "ERROR" in line and not in_traceback:
            found[line.strip()] += 1
    return found


async def run(args: argparse.Namespace, code: str) -> None:
    """Set up, start the server, fire the chosen items, print the verdicts."""
    items = {part.strip() for part in args.items.split(",")}
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(load_line())
    print(code)
    world = World(run=secrets.token_hex(2))
    started = time.perf_counter()
    with (
        scratch_database(admin_url, "dos") as url,
        tempfile.TemporaryDirectory(prefix="lapor-dos-") as data_dir,
    ):
        world.database = url.rsplit("/", 1)[1]
        await provision(url, world, args.complaints)
        print(
            f"setup: {len(ROLES) + 2} tenants in {world.provisioned:.1f} s; {args.complaints} complaints "
            f"seeded in {world.seeded:.1f} s"
        )
        world.port = free_port()
        log_path = Path(data_dir) / "server.log"
        server = start_server(url, world.port, data_dir, log_path)
        sampler = None
        attacks = 0.0
        try:
            await wait_ready(world.port, server, log_path)
            sampler = Sampler(server.pid, admin_url, world.database)
            rss = sampler.server.memory_info().rss / MIB
            print(f"server: lapor serve (pid {server.pid}), RSS {rss:.0f} MiB after start")
            bench = Bench(world, sampler, url)
            attack_started = time.perf_counter()
            if "3" in items:
                await bench.item3(args.searchers, args.search_seconds, args.search_timeout)
            if "5" in items:
                await bench.item5()
            if "6" in items:
                await bench.item6()
            if "7" in items:
                await bench.item7()
            if "12" in items:
                await bench.item12(args.observe)
            await bench.finish()
            attacks = time.perf_counter() - attack_started
        finally:
            if sampler is not None:
                sampler.close()
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            problems = log_problems(log_path.read_text(errors="replace").splitlines())
    print(
        f"\nattacks took {attacks:.0f} s ({time.perf_counter() - started:.0f} s with setup); server log: "
        f"{sum(problems.values())} errors and tracebacks"
    )
    for line, count in problems.most_common(4):
        print(f"  {count} x {line[:150]}")
    print("\nitem            held  work per request / reason")
    for verdict in bench.verdicts:
        print(f"{verdict.item:15s} {yes(verdict.held):4s}  {verdict.work}")
        print(f"{'':21s} {verdict.reason}")
    print(load_line())
