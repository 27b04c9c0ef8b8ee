"""Real servers a fault test owns: a private PostgreSQL cluster, a private redis-server, and the
LAPOR app under uvicorn, each on a free loopback port, each stopped and started at will.

Why private: a fault test stops its servers on purpose; the shared PostgreSQL (5432) and Redis
(6379) that the rest of the suite and other sessions use must never go down with them.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from psycopg import sql

from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.settings import Settings
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.validation import TenantSpec
from tests.conftest import BASE_DOMAIN, IN_CI

SECRET = "f" * 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing(reason: str) -> None:
    """A binary the test needs is absent: skip locally, fail in CI (where it must be installed)."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


def wait_until(check, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(interval)


# --- PostgreSQL -----------------------------------------------------------------------------------


def _postgres_bin_dir() -> Path | None:
    """Debian's server binaries first (world-readable: the server user can run them as they are),
    else the ones in pgserver's wheel, else whatever ``initdb`` is on the PATH."""
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for candidate in reversed(debian):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    wheel = _pgserver_bin_dir()
    if wheel is not None:
        return wheel
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _pgserver_bin_dir() -> Path | None:
    try:
        from lapor.platform.embedded import import_pgserver

        import_pgserver()
        from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]
    except ImportError:
        return None
    bin_dir = Path(POSTGRES_BIN_PATH)
    if not (bin_dir / "initdb").exists():
        return None
    if os.geteuid() == 0:  # the server user must reach the wheel's files: pgserver's own remedy
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(bin_dir)
        ensure_folder_permissions(bin_dir, 0o055)  # group/other read + execute
        ensure_folder_permissions(bin_dir.parent / "lib", 0o044)  # group/other read
    return bin_dir


def _server_user() -> str | None:
    """initdb and postgres refuse to run as root: run them as ``postgres`` (or pgserver's user)."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        missing("running as root without runuser to start PostgreSQL as another user")
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    missing("running as root and no 'postgres' or 'pgserver' system user to run PostgreSQL as")
    return None


class PrivatePostgres:
    """A throwaway cluster: ``initdb`` in a temp dir, trust auth, TCP on a free loopback port."""

    def __init__(self) -> None:
        bin_dir = _postgres_bin_dir()
        if bin_dir is None:
            missing("no PostgreSQL server binaries (initdb, pg_ctl) to start a private cluster")
        assert bin_dir is not None
        self.bin_dir = bin_dir
        self.user = _server_user()
        # Not under pytest's tmp dir (mode 0700, owned by root): the server user must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="lapor-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync",
            "--no-instructions",
        )  # fmt: skip

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        # Output to a file, never a pipe: the postmaster pg_ctl forks would inherit and hold it.
        with tempfile.TemporaryFile("w+") as out:
            done = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=self.root
            )
            out.seek(0)
            if done.returncode != 0:
                log = self.log.read_text()[-3000:] if self.log.exists() else ""
                raise AssertionError(f"{program} failed ({done.returncode}): {out.read()}\n{log}")

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_running(self) -> bool:
        """The postmaster named in the lock file is alive (a crash leaves the file behind)."""
        pid = self.postmaster_pid()
        return pid is not None and _alive(pid)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def server_pids(self) -> list[int]:
        """This cluster's postmaster and every process it forked (backends, WAL writer,
        checkpointer...): found from its own lock file, never by a process name."""
        postmaster = self.postmaster_pid()
        if postmaster is None or not _alive(postmaster):
            return []
        children = [pid for pid, parent in _parents().items() if parent == postmaster]
        return [postmaster, *children]

    def crash(self) -> None:
        """A power cut as far as processes go: every server process frozen (SIGSTOP) at one
        instant, then SIGKILLed. No shutdown checkpoint, no goodbye to clients, WAL buffers not yet
        written are gone; the next start runs crash recovery from the last checkpoint."""
        pids = self.server_pids()
        assert pids, "the cluster is not running"
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not any(_alive(pid) for pid in pids), 10, "the killed server processes did not go")
        # The dead postmaster may linger as a zombie until whatever adopted it reaps it (here, a
        # slow PID 1): PostgreSQL takes a lock file whose PID still answers kill(0) for a live
        # server and refuses to start. Every process of the cluster is dead: the locks are stale.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.root / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def destroy(self) -> None:
        if self.is_running():
            with suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(FileNotFoundError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


# --- Redis ----------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own on a fixed free port, so it can be killed and started again there."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("no redis-server binary to start a private Redis (apt-get install redis-server)")
        assert binary is not None
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def answers(self) -> bool:
        try:
            with self._probe() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, 10, "private redis-server did not answer")

    def kill(self) -> None:
        """SIGKILL: no goodbye to clients, as when the host or container dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def _probe(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)

    def keys(self) -> int:
        """How many keys the server holds (0 when it does not answer)."""
        try:
            with self._probe() as client:
                return int(client.dbsize())
        except redis.RedisError:
            return 0

    def channels(self) -> list[bytes]:
        """The pub/sub channels someone is subscribed to (empty when it does not answer)."""
        try:
            with self._probe() as client:
                return list(client.pubsub_channels())
        except redis.RedisError:
            return []


# --- the app --------------------------------------------------------------------------------------


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "LAPOR_DATABASE_URL": database_url,
        "LAPOR_BASE_DOMAIN": BASE_DOMAIN,
        "LAPOR_SECRET_KEY": SECRET,
        "LAPOR_LOG_LEVEL": "WARNING",
        "LAPOR_REDIS_URL": "",
        "LAPOR_RATE_LIMIT_PUBLIC": "0",
        "LAPOR_RATE_LIMIT_CLIENT": "0",
        "LAPOR_HOST_CACHE_TTL": "2",
    }
    env.update(extra)
    return env


def lapor_cli(env: Mapping[str, str], *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "lapor.cli.main", *args, "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def create_tenants(env: Mapping[str, str], regency: str = "kupang-kota") -> None:
    """The smallest real hierarchy: national, a province, one city (``regency``)."""
    lapor_cli(env, "tenants", "create", "nasional", "--name", "Nasional", "--kind", "NATIONAL")
    lapor_cli(env, "tenants", "create", "ntt", "--name", "NTT", "--kind", "PROVINCE", "--region-code", "53")
    lapor_cli(
        env, "tenants", "create", regency, "--name", "Kota Kupang", "--kind", "CITY", "--parent", "ntt",
        "--region-code", "53.71",
    )  # fmt: skip


async def provision(database_url: str, *specs: TenantSpec) -> None:
    """Tenants created in-process (each ``lapor`` CLI call costs seconds of imports); the
    PostgreSQL restart test still goes through ``lapor tenants create``."""
    settings = Settings(database_url=database_url, base_domain=BASE_DOMAIN)
    db = Database(database_url, settings, pool_size=2, max_overflow=0)
    try:
        await upgrade_public(db)
        provisioner = Provisioner(db, BASE_DOMAIN)
        for spec in specs:
            await provisioner.create(spec)
    finally:
        await db.dispose()


HIERARCHY = (
    TenantSpec("nasional", "Nasional", "NATIONAL"),
    TenantSpec("ntt", "NTT", "PROVINCE", region_code="53", time_zone="Asia/Makassar"),
    TenantSpec("kupang-kota", "Kota Kupang", "CITY", parent="ntt", region_code="53.71"),
)


class LiveApp:
    """``uvicorn lapor.platform.app:app_from_env`` in a subprocess; its log goes to a file (a full
    pipe would stall the server)."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "lapor.platform.app:app_from_env", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"app exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text()[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@contextmanager
def live_app(env: Mapping[str, str], log_path: Path) -> Iterator[LiveApp]:
    app = LiveApp(env, log_path)
    try:
        wait_until(app.ready, 60, "the app did not become ready", interval=0.2)
        yield app
    finally:
        app.stop()
