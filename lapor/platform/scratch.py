"""Throwaway databases for tests and benchmarks: unique name, dropped with their tenant roles.

Tenant roles are cluster-wide while schemas live in one database, so dropping a scratch database
also drops the roles provisioned for it (their names carry the database's role prefix).
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from lapor.platform.embedded import import_pgserver
from lapor.tenants.provisioning import role_prefix

log = logging.getLogger(__name__)

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def find_admin_url(env_var: str = "LAPOR_TEST_ADMIN_URL") -> str:
    """A superuser URL: ``$env_var``, else the local server, else an embedded pgserver.

    ``$env_var=embedded`` forces the embedded server (to check that path on a machine that has
    a local server).
    """
    explicit = os.environ.get(env_var)
    if explicit and explicit != "embedded":
        return explicit
    if explicit != "embedded" and _reachable(LOCAL_SERVER):
        return LOCAL_SERVER
    pgserver = import_pgserver()
    data_dir = Path(tempfile.mkdtemp(prefix="lapor-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="delete")
    log.info("no PostgreSQL on 127.0.0.1:5432: using an embedded server in %s", data_dir)
    return server.get_uri()


def url_for_database(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


def drop_database(admin_url: str, database: str) -> None:
    """Drop ``database`` and the tenant roles provisioned for it."""
    prefix = role_prefix(database) + "\\_%"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix,)).fetchall()
        for (role,) in roles:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@contextmanager
def scratch_database(admin_url: str, label: str = "test") -> Iterator[str]:
    """Create ``lapor_<label>_<random>``; yield its URL; drop it (and its roles) afterwards."""
    database = f"lapor_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        yield url_for_database(admin_url, database)
    finally:
        drop_database(admin_url, database)
