"""P1 (DESIGN.md section 10): ``submitComplaint`` through the full stack, one worker.

Target: at least 50% of the throughput of a bare Starlette + psycopg insert endpoint measured in
the same run, and p99 under 100 ms at 32 connections.

In a scratch database: the national tenant, one province and one regency are provisioned. Then,
one after the other, two servers are started as separate processes with uvicorn (one worker,
the same loop and HTTP parser, access log off):

(a) the bare baseline, ``bench/_bare_insert_app.py``: read the JSON body, one
    ``INSERT ... RETURNING id`` through a ``psycopg_pool.AsyncConnectionPool``, answer JSON;
(b) the real app (``lapor.platform.app:app_from_env``), sent the ``submitComplaint`` mutation on
    the regency's host (``Host: <slug>.localhost``): host resolution, GraphQL parsing and
    validation, rate limit (in-process store, limits set too high to refuse), input checks,
    routing rules, deadline, argon2 access code, reporter encryption, complaint row, timeline
    event.

Each is driven by ``--clients`` concurrent clients, one keep-alive connection each, for a short
warm-up, then ``--seconds`` measured. Both receive the very same request bodies (varied
Indonesian complaints). The load generator (a minimal HTTP/1.1 client on uvloop, see below) runs
in this process, on the same machine: it competes for the same CPUs as the server and
PostgreSQL, and the CPU each used is printed.
Afterwards the stored rows are counted: they must equal the successful responses.

    .venv/bin/python bench/submit.py
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import uvloop
from _bare_insert_app import CREATE_TABLE, TABLE
from _common import machine_line, percentile
from rss import free_port, wait_ready
from sqlalchemy.engine import make_url

from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant
from lapor.tenants.validation import TenantSpec

BENCH_DIR = Path(__file__).resolve().parent
LAPOR_APP = "lapor.platform.app:app_from_env"
SECRET_KEY = secrets.token_hex(32)  # one per run: whatever the app encrypts at startup must decrypt later
SPECS = (
    TenantSpec("nasional", "Nasional", "NATIONAL"),
    TenantSpec("prov-53", "Provinsi NTT", "PROVINCE", region_code="53", time_zone="Asia/Makassar"),
    TenantSpec(
        "kab-kupang", "Kabupaten Kupang", "REGENCY", parent="prov-53", region_code="53.01",
        time_zone="Asia/Makassar",
    ),
)  # fmt: skip

SUBMIT = """
mutation Submit($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) {
    trackingId accessCode duplicate
    complaint { status deadlineAt }
    errors { field code message }
  }
}"""

# (category, title, body): what people write to a regency's complaint desk.
COMPLAINTS = (
    ("ENERGI", "Lampu jalan mati di Jalan El Tari",
     "Sudah dua minggu lampu jalan di depan SD Inpres Oesapa mati. Malam hari gelap sekali dan sudah "
     "dua kali terjadi kecelakaan motor. Mohon segera diperbaiki."),
    ("INFRASTRUKTUR", "Jalan berlubang di Desa Noelbaki",
     "Jalan kabupaten dari simpang Noelbaki menuju pasar rusak parah, lubangnya dalam dan tergenang air "
     "saat hujan. Anak sekolah sering jatuh dari motor."),
    ("AIR_BERSIH", "Air PDAM tidak mengalir tiga hari",
     "Di RT 05 RW 02 Kelurahan Naibonat air PDAM tidak mengalir sejak hari Senin. Warga terpaksa membeli "
     "air tangki dengan harga mahal. Kapan air akan kembali normal?"),
    ("KESEHATAN", "Puskesmas tutup pada jam pelayanan",
     "Hari Rabu pukul 10 pagi Puskesmas Baumata sudah tutup, padahal jadwal pelayanan sampai pukul 14.00. "
     "Ibu saya yang sakit tidak bisa berobat."),
    ("PENDIDIKAN", "Dana BOS tidak transparan",
     "Komite sekolah tidak pernah diberi laporan penggunaan dana BOS di SMP Negeri 3. Orang tua murid "
     "juga masih dimintai sumbangan setiap bulan."),
    ("ADMINDUK", "KTP elektronik belum jadi enam bulan",
     "Saya merekam KTP-el di Dukcapil sejak bulan Mei, sampai sekarang belum dicetak dengan alasan blanko "
     "habis. Saya butuh KTP untuk melamar pekerjaan."),
    ("SOSIAL", "Bantuan sosial tidak tepat sasaran",
     "Beberapa keluarga mampu di Desa Oelnasi menerima BLT, sedangkan janda lansia di RT 03 tidak pernah "
     "terdaftar. Mohon pendataan ulang."),
    ("LINGKUNGAN", "Sampah menumpuk di pasar Oesao",
     "Sampah di belakang pasar Oesao tidak diangkut lebih dari seminggu, baunya menyengat dan banyak lalat. "
     "Warga sekitar khawatir terkena penyakit."),
    ("PERHUBUNGAN", "Angkot menaikkan tarif sepihak",
     "Sopir angkot jurusan Oesao - Kupang meminta tarif Rp10.000 padahal tarif resmi Rp7.000. Penumpang "
     "yang menolak diturunkan di jalan."),
    ("PUNGLI", "Pungutan liar saat mengurus surat keterangan",
     "Petugas di kantor desa meminta uang Rp50.000 untuk surat keterangan tidak mampu, tanpa kuitansi. "
     "Padahal surat itu seharusnya gratis."),
    ("PERIZINAN", "Izin usaha mikro tidak kunjung terbit",
     "Permohonan NIB dan izin usaha warung makan saya sudah diajukan lewat OSS sejak dua bulan lalu tetapi "
     "statusnya masih menunggu verifikasi dinas."),
    ("PERTANIAN", "Pupuk bersubsidi langka",
     "Kelompok tani kami di Kecamatan Kupang Timur belum menerima pupuk urea bersubsidi untuk musim tanam "
     "ini, di kios harganya dua kali lipat."),
)  # fmt: skip
NAMES = ("Yohanes Taek", "Maria Goreti Bria", "Fransiskus Nahak", "Siti Rahmawati", "Agustinus Lay")


def submission_bodies(count: int, seed: int = 53) -> list[dict[str, Any]]:
    """``count`` GraphQL request bodies: named reporters mostly, some anonymous, a few by email."""
    rng = random.Random(seed)
    bodies = []
    for number in range(count):
        category, title, body = COMPLAINTS[number % len(COMPLAINTS)]
        values: dict[str, Any] = {"title": title, "body": body, "categoryCode": category}
        roll = rng.random()
        if roll < 0.2:
            values["anonymous"] = True
        else:
            name = rng.choice(NAMES)
            contact = (
                {"email": f"{name.split()[0].lower()}{number}@contoh.id"}
                if roll > 0.85
                else {"phone": f"+62813{rng.randrange(10**7, 10**8)}"}
            )
            values["reporter"] = {"name": name, **contact}
            values["location"] = rng.choice(("RT 05 RW 02", "Jl. Timor Raya km 20", None))
        bodies.append({"query": SUBMIT, "variables": {"input": values}})
    return bodies


# --- setup -------------------------------------------------------------------------------------


async def provision(url: str) -> Tenant:
    """The public schema, then the national tenant, a province and a regency; returns the regency."""
    db = Database(url, Settings(), pool_size=2)
    try:
        await upgrade_public(db)
        provisioner = Provisioner(db, "localhost")
        tenants = [await provisioner.create(spec) for spec in SPECS]
    finally:
        await db.dispose()
    return tenants[-1]


# Every request of a bench comes from one IP (and one OAuth client): the rate limits stay on (their
# check is part of the path measured) but so high they never refuse. No LAPOR_REDIS_URL: limits,
# caches and pub/sub use the in-process stand-ins.
NEVER_LIMITED = 10**9


def lapor_env(url: str, **extra: str) -> dict[str, str]:
    return {
        "LAPOR_DATABASE_URL": url,
        "LAPOR_BASE_DOMAIN": "localhost",
        "LAPOR_SECRET_KEY": SECRET_KEY,
        "LAPOR_LOG_LEVEL": "WARNING",
        "LAPOR_RATE_LIMIT_PUBLIC": str(NEVER_LIMITED),
        "LAPOR_RATE_LIMIT_CLIENT": str(NEVER_LIMITED),
        **extra,
    }


def start_uvicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """One uvicorn worker (factory ``app``), bench/ importable, access log off."""
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--app-dir", str(BENCH_DIR)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(command, env={**os.environ, **env})


# --- load --------------------------------------------------------------------------------------
# The load generator is a minimal HTTP/1.1 keep-alive client on asyncio streams rather than httpx:
# on this machine an httpx.AsyncClient spent a whole core to send about 200 requests per second
# (1 or 32 connections alike), far below what the bare servers answer, so it measured itself.


class Connection:
    """One keep-alive HTTP/1.1 connection: send a prepared request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` (see :func:`post_request`); (status, body) of the answer."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = None
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"no Content-Length in the answer: {head!r}")
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def post_request(path: str, host: str, body: Any, headers: dict[str, str] | None = None) -> bytes:
    """The bytes of ``POST path`` with ``body`` as JSON (built once, sent many times)."""
    payload = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


Send = Callable[[Connection, int], Awaitable[str | None]]
"""One request (the n-th); ``None`` when it succeeded, else what went wrong."""


class CpuMeter:
    """CPU seconds used by the server, this process (the client), the PostgreSQL backends serving
    ``database`` and the whole machine; :meth:`cores` turns two readings into busy cores."""

    NAMES = ("server", "client", "postgres", "machine")

    def __init__(self, server_pid: int, database: str) -> None:
        self.server, self.me, self.database = psutil.Process(server_pid), psutil.Process(), database

    def _backends(self) -> dict[int, float]:
        """Per backend process of ``database`` (its title reads ``postgres: ... user database ...``)."""
        found = {}
        for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
            cmdline = process.info["cmdline"] or []
            if process.info["name"] == "postgres" and self.database in " ".join(cmdline).split():
                found[process.pid] = process.info["cpu_times"].user + process.info["cpu_times"].system
        return found

    def read(self) -> tuple[float, float, dict[int, float], float]:
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return (_seconds(self.server), _seconds(self.me), self._backends(), busy)

    def cores(self, before: tuple[float, float, dict[int, float], float], after: Any, seconds: float) -> dict:
        postgres = sum(value - before[2].get(pid, 0.0) for pid, value in after[2].items())
        spent = (after[0] - before[0], after[1] - before[1], postgres, after[3] - before[3])
        cores = {name: value / seconds for name, value in zip(self.NAMES, spent, strict=True)}
        cores["other"] = max(0.0, cores["machine"] - cores["server"] - cores["client"] - cores["postgres"])
        return cores


def _seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@dataclass
class Load:
    label: str
    seconds: float = 0.0
    ok: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    """Busy cores while measuring (see :class:`CpuMeter`)."""

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def ms(self, fraction: float) -> float:
        return percentile(self.latencies, fraction) * 1000 if self.latencies else float("nan")

    def line(self) -> str:
        return (
            f"{self.label:<30} {self.rps:7.1f} req/s  p50 {self.ms(0.50):6.1f} ms  "
            f"p95 {self.ms(0.95):6.1f} ms  p99 {self.ms(0.99):6.1f} ms  errors {self.errors}  "
            f"({self.ok} ok in {self.seconds:.1f} s)\n"
            f"{'':<30} busy cores: server {self.cpu['server']:.2f}, client {self.cpu['client']:.2f}, "
            f"PostgreSQL {self.cpu['postgres']:.2f}, anything else {self.cpu['other']:.2f} "
            f"(whole machine {self.cpu['machine']:.2f} of {os.cpu_count()})"
        )


async def drive(
    connections: list[Connection], send: Send, *, label: str, seconds: float, meter: CpuMeter
) -> Load:
    """One loop per connection calling ``send`` for ``seconds``; every latency is kept."""
    load = Load(label)
    counter = itertools.count()
    before = meter.read()
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(connection: Connection) -> None:
        while (begun := time.perf_counter()) < deadline:
            problem = await send(connection, next(counter))
            load.latencies.append(time.perf_counter() - begun)
            if problem is None:
                load.ok += 1
            else:
                load.errors += 1
                load.first_error = load.first_error or problem

    await asyncio.gather(*(loop(connection) for connection in connections))
    load.seconds = time.perf_counter() - started
    load.cpu = meter.cores(before, meter.read(), load.seconds)
    return load


async def measure(
    app: str,
    env: dict[str, str],
    send: Send,
    *,
    label: str,
    database: str,
    clients: int,
    warmup: float,
    seconds: float,
    cold: bool = False,
) -> tuple[Load, Load]:
    """Start ``app`` in a fresh uvicorn process, warm it up, measure; (warm-up, measured).

    ``database``: the name of the database the server uses, for its backends' CPU. Unless
    ``cold``, one request alone comes first (it fills the server's caches; counted in the
    warm-up), so the concurrent warm-up does not start on a cold process."""
    port = free_port()
    server = start_uvicorn(app, port, env)
    connections: list[Connection] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await wait_ready(client, server)
        connections = [await Connection.open(port) for _ in range(clients)]
        meter = CpuMeter(server.pid, database)
        primed = "cold" if cold else await send(connections[0], -1)
        warm = await drive(connections, send, label=f"{label} (warm-up)", seconds=warmup, meter=meter)
        if primed != "cold":
            warm.ok, warm.errors = warm.ok + (primed is None), warm.errors + (primed is not None)
            warm.first_error = primed or warm.first_error
        measured = await drive(connections, send, label=label, seconds=seconds, meter=meter)
    finally:
        for connection in connections:
            connection.close()
        server.terminate()
        server.wait(timeout=10)
    return warm, measured


def graphql_sender(requests: list[bytes], check: Callable[[Any], bool]) -> Send:
    """Send ``requests[n % len]``; success is HTTP 200, no GraphQL errors and ``check(data)``."""

    async def send(connection: Connection, n: int) -> str | None:
        try:
            status, raw = await connection.exchange(requests[n % len(requests)])
        except (OSError, asyncio.IncompleteReadError, RuntimeError) as error:
            return f"{type(error).__name__}: {error}"
        if status != 200:
            return f"HTTP {status}: {raw[:200]!r}"
        body = json.loads(raw)
        if body.get("errors") or not check(body.get("data")):
            return raw[:300].decode(errors="replace")
        return None

    return send


def report(warm: Load, measured: Load) -> None:
    """The measured line; the warm-up only in a short line (its errors matter, not its speed)."""
    print(measured.line())
    print(
        f"{'':<30} warm-up: {warm.ok} ok, {warm.errors} errors in {warm.seconds:.1f} s "
        f"(max latency {max(warm.latencies, default=0):.1f} s)"
    )
    for load in (warm, measured):
        if load.first_error:
            print(f"{'':<30} first error ({load.label}): {' '.join(load.first_error.split())[:300]}")


def _submitted(data: Any) -> bool:
    payload = (data or {}).get("submitComplaint") or {}
    return payload.get("errors") == [] and bool(payload.get("trackingId") or payload.get("id"))


def count_rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return row[0] if row else 0


def background_line(seconds: float = 2.0) -> str:
    """How busy the machine is before the run (other processes skew every figure)."""
    busy = psutil.cpu_percent(interval=seconds) / 100 * (os.cpu_count() or 1)
    return f"background load before the run: {busy:.2f} of {os.cpu_count()} cores busy"


def client_note() -> str:
    return (
        f"note: the load generator (this process) runs on the same {os.cpu_count()} CPUs as the "
        "server and PostgreSQL, so every figure is lower than on a dedicated server; the busy-core "
        "columns show who used what"
    )


# --- main --------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--cold", action="store_true", help="no single priming request before the concurrent warm-up"
    )
    parser.add_argument(
        "--app", default=LAPOR_APP, help="uvicorn factory of the app under test (to measure a variant)"
    )
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(f"clients: {args.clients} concurrent (one connection each), warm-up {args.warmup:.0f} s, "
          f"measured {args.seconds:.0f} s per server; uvicorn, 1 worker")  # fmt: skip
    print(client_note())
    print(background_line())

    bodies = submission_bodies(500)
    with scratch_database(admin_url, "bench") as url:
        regency = await provision(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(CREATE_TABLE)
        options = {"clients": args.clients, "warmup": args.warmup, "seconds": args.seconds}
        options |= {"database": make_url(url).database or "", "cold": args.cold}

        bare_send = graphql_sender([post_request("/graphql", "localhost", b) for b in bodies], _submitted)
        bare_env = {"BENCH_DATABASE_URL": url}
        bare_warm, bare = await measure(
            "_bare_insert_app:create", bare_env, bare_send, label="bare Starlette + psycopg insert", **options
        )
        bare_rows = count_rows(url, f"public.{TABLE}")

        host = f"{regency.slug}.localhost"
        lapor_send = graphql_sender([post_request("/graphql", host, b) for b in bodies], _submitted)
        lapor_warm, lapor = await measure(
            args.app, lapor_env(url), lapor_send, label="LAPOR submitComplaint", **options
        )
        lapor_rows = count_rows(url, f"{regency.schema_name}.complaint")
        event_rows = count_rows(url, f"{regency.schema_name}.complaint_event")

    report(bare_warm, bare)
    report(lapor_warm, lapor)
    ratio = lapor.rps / bare.rps if bare.rps else 0.0
    print(f"ratio LAPOR/bare: {ratio:.2f} (target >= 0.5): {'met' if ratio >= 0.5 else 'NOT met'}")
    p99 = lapor.ms(0.99)
    verdict = "yes" if p99 < 100 and lapor.errors == 0 and lapor.ok else "no"
    print(f"p99 under 100 ms at {args.clients} connections: {verdict} (LAPOR p99 {p99:.1f} ms)")
    lapor_ok = lapor_warm.ok + lapor.ok
    bare_ok = bare_warm.ok + bare.ok
    print(
        f"stored: LAPOR {lapor_rows} complaints ({event_rows} timeline events) for {lapor_ok} successful "
        f"submissions (warm-up included): {'equal' if lapor_rows == lapor_ok == event_rows else 'MISMATCH'}; "
        f"bare {bare_rows} rows for {bare_ok}: {'equal' if bare_rows == bare_ok else 'MISMATCH'}"
    )


if __name__ == "__main__":
    uvloop.run(main())
