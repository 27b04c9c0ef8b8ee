"""The embedded PostgreSQL (pgserver) used when no ``LAPOR_DATABASE_URL`` is given.

A user's laptop has no PostgreSQL; ``lapor serve`` must still work. pgserver ships the server
binaries in a wheel; the cluster lives under ``LAPOR_DATA_DIR/postgres`` and stops when the last
process using it exits.
"""

from __future__ import annotations

import logging
import warnings
from types import ModuleType
from urllib.parse import quote

import psycopg
from psycopg import sql

from lapor.settings import Settings

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "lapor"


def import_pgserver() -> ModuleType:
    """pgserver, imported lazily (it spawns nothing until asked) and without its import noise."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def embedded_server_url(settings: Settings, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or join) the embedded server and return a URL to ``database``, creating it."""
    pgserver = import_pgserver()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    socket_dir = str(data_dir / "postgres")
    return f"postgresql://postgres@/{database}?host={quote(socket_dir)}"


def database_url_from(settings: Settings) -> str:
    """``LAPOR_DATABASE_URL`` if set, else the embedded server's URL."""
    if settings.database_url:
        return settings.database_url
    url = embedded_server_url(settings)
    log.info("no LAPOR_DATABASE_URL: using the embedded PostgreSQL under %s", settings.data_dir)
    return url
