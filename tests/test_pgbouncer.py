"""Isolation through a real pooler: pgbouncer in transaction mode, started on a free port.

With one server connection shared by every client, tenants alternate on the same PostgreSQL
session; `SET LOCAL` must keep each tenant's rows and settings inside its own transaction.

pgbouncer is a development requirement (Debian's package; ``.ci/run`` installs it): without it
this test fails, on a developer's machine as in CI, rather than skip the guarantee unseen.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from lapor.platform.db import Database
from lapor.tenants.context import tenant_transaction
from lapor.tenants.tables import unit


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pgbouncer_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    target = make_url(database_url)
    if binary is None:
        pytest.fail("pgbouncer is a development requirement: apt-get install pgbouncer (see README.md)")
    # PostgreSQL on TCP, or on a Unix socket (pgbouncer takes the socket's directory as host).
    host = target.host or target.query.get("host") or "/var/run/postgresql"
    if isinstance(host, tuple):
        host = host[0]
    # Not under pytest's private temp dir: pgbouncer may run as another user (it refuses root).
    work = Path(tempfile.mkdtemp(prefix="lapor-pgbouncer-"))
    port = _free_port()
    (work / "users.txt").write_text(f'"{target.username}" ""\n')
    (work / "pgbouncer.ini").write_text(
        f"""[databases]
{target.database} = host={host} port={target.port or 5432} dbname={target.database}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {work / "users.txt"}
pool_mode = transaction
default_pool_size = 1
max_client_conn = 50
logfile = {work / "pgbouncer.log"}
pidfile = {work / "pgbouncer.pid"}
"""
    )
    command = [binary, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
        os.chmod(work, 0o777)
        for path in work.iterdir():
            os.chmod(path, 0o666)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = target.set(host="127.0.0.1", port=port, query={}).render_as_string(hide_password=False)
    deadline = time.monotonic() + 15
    while True:
        try:
            with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), prepare_threshold=None):
                break
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = (work / "pgbouncer.log").read_text() if (work / "pgbouncer.log").exists() else ""
                pytest.fail(f"pgbouncer did not start: {log}")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(work, ignore_errors=True)


async def test_tenants_never_leak_through_transaction_pooling(pgbouncer_url, settings, make_regency) -> None:
    from dataclasses import replace

    a, b = await make_regency(), await make_regency()
    pooled = Database(
        pgbouncer_url, replace(settings, db_prepare_threshold=None), pool_size=4, max_overflow=0
    )
    try:
        for tenant, code in ((a, "A-ONLY"), (b, "B-ONLY")):
            async with tenant_transaction(pooled, tenant) as conn:
                await conn.execute(unit.insert().values(code=code, name=code))
        backends = set()
        for round_number in range(60):
            tenant, own = (a, "A-ONLY") if round_number % 2 == 0 else (b, "B-ONLY")
            async with tenant_transaction(pooled, tenant) as conn:
                assert (await conn.scalars(sa.select(unit.c.code))).all() == [own]
                assert await conn.scalar(sa.text("SELECT current_user")) == tenant.role_name
                backends.add(await conn.scalar(sa.text("SELECT pg_backend_pid()")))
            async with pooled.public.connect() as conn:
                assert await conn.scalar(sa.text("SELECT current_user = session_user"))
                assert await conn.scalar(sa.text("SHOW search_path")) == '"$user", public'
        assert len(backends) == 1, "pgbouncer must really share one server connection"
        with pytest.raises(ProgrammingError) as refused:
            async with tenant_transaction(pooled, a) as conn:
                await conn.execute(sa.text(f"SELECT * FROM {b.schema_name}.unit"))
        assert refused.value.orig.sqlstate == "42501", refused.value  # insufficient_privilege, not a typo
    finally:
        await pooled.dispose()
