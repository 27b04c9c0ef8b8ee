"""Migrations on two Alembic tracks: ``public`` once, ``tenant`` in every tenant schema.

The tenant track is applied the way DESIGN.md section 11 asks after django-tenants' pains:

* the migration graph is loaded once per process, never once per tenant;
* the SQL for "from revision X to head" is emitted once, in Alembic's offline mode, and replayed
  into each schema at revision X (so tenant migrations must not read data in Python: write data
  migrations in SQL);
* every schema is upgraded in its own transaction, under ``SELECT ... FOR UPDATE`` on its
  ``alembic_version`` row, by a bounded number of concurrent workers. A run can be interrupted
  and restarted (it resumes where each schema stands), two runs at once do not collide, and one
  schema's failure is reported by name without stopping the others.

Provisioning replays the same base-to-head SQL, so a new tenant is exactly a migrated one.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
TRACKS = ("public", "tenant")

# Serialises concurrent `lapor migrate` / `lapor serve` runs on the public track.
_PUBLIC_MIGRATION_LOCK = 7_202_611


def _config(track: str, extra_version_locations: Sequence[str] = ()) -> Config:
    if track not in TRACKS:
        raise ValueError(f"unknown migration track {track!r}")
    location = MIGRATIONS_DIR / track
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("path_separator", "os")
    locations = [str(location / "versions"), *extra_version_locations]
    config.set_main_option("version_locations", ":".join(locations))
    return config


@lru_cache(maxsize=8)
def script_directory(track: str, extra_version_locations: tuple[str, ...] = ()) -> ScriptDirectory:
    """The revision graph of ``track``, loaded once per process."""
    return ScriptDirectory.from_config(_config(track, extra_version_locations))


def head_revision(track: str, extra_version_locations: tuple[str, ...] = ()) -> str:
    head = script_directory(track, extra_version_locations).get_current_head()
    if head is None:
        raise RuntimeError(f"the {track} migration track has no revisions")
    return head


@lru_cache(maxsize=64)
def tenant_upgrade_sql(start: str | None, extra_version_locations: tuple[str, ...] = ()) -> str:
    """SQL that takes a tenant schema from ``start`` (``None``: empty) to head.

    Unqualified names: run it with ``search_path`` set to the target schema.
    """
    config = _config("tenant", extra_version_locations)
    script = script_directory("tenant", extra_version_locations)
    head = head_revision("tenant", extra_version_locations)
    buffer = io.StringIO()

    def upgrade(rev: object, _context: object) -> object:
        return script._upgrade_revs(head, rev)

    environment = EnvironmentContext(
        config, script, fn=upgrade, as_sql=True, starting_rev=start, destination_rev=head
    )
    with environment:
        environment.configure(
            dialect_name="postgresql",
            output_buffer=buffer,
            transactional_ddl=False,
            starting_rev=start,
            literal_binds=True,
        )
        with environment.begin_transaction():
            environment.run_migrations()
    return buffer.getvalue()


async def upgrade_public(db: Database) -> None:
    """Bring ``public`` to head, under an advisory lock so parallel starters wait their turn."""
    async with db.public.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PUBLIC_MIGRATION_LOCK})
        await conn.run_sync(_run_public_online)


def _run_public_online(connection: Connection) -> None:
    config = _config("public")
    script = script_directory("public")

    def upgrade(rev: object, _context: object) -> object:
        return script._upgrade_revs("heads", rev)

    environment = EnvironmentContext(config, script, fn=upgrade, destination_rev="heads")
    with environment:
        environment.configure(connection=connection, version_table_schema="public")
        with environment.begin_transaction():
            environment.run_migrations()


async def public_revision(db: Database) -> str | None:
    async with db.public.connect() as conn:
        exists = await conn.scalar(sa.text("SELECT to_regclass('public.alembic_version')"))
        if exists is None:
            return None
        return await conn.scalar(sa.text("SELECT version_num FROM public.alembic_version"))


@dataclass(frozen=True)
class SchemaTarget:
    """A schema to migrate: what the tenant runner needs of a tenant."""

    slug: str
    schema_name: str
    cluster: str = "main"


@dataclass
class TenantMigrationReport:
    head: str
    total: int = 0
    upgraded: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


async def current_tenant_revision(conn: AsyncConnection) -> str | None:
    """The revision of the schema on ``search_path``, locking its row until the transaction ends."""
    if await conn.scalar(sa.text("SELECT to_regclass('alembic_version')")) is None:
        return None
    return await conn.scalar(sa.text("SELECT version_num FROM alembic_version FOR UPDATE"))


async def replay_sql(conn: AsyncConnection, sql: str) -> None:
    """Run a multi-statement SQL script on ``conn`` inside its current transaction.

    Without parameters psycopg sends it as one simple query: one round trip for the whole script.
    """
    raw = await conn.get_raw_connection()
    await raw.driver_connection.execute(sql)  # type: ignore[union-attr]


async def upgrade_tenants(
    db: Database,
    targets: Sequence[SchemaTarget],
    *,
    workers: int = 8,
    extra_version_locations: tuple[str, ...] = (),
    on_done: Callable[[SchemaTarget, str], None] | None = None,
) -> TenantMigrationReport:
    """Upgrade every schema in ``targets`` to the tenant head, ``workers`` at a time."""
    head = head_revision("tenant", extra_version_locations)
    report = TenantMigrationReport(head=head, total=len(targets))
    gate = asyncio.Semaphore(max(1, workers))
    started = time.perf_counter()

    async def one(target: SchemaTarget) -> None:
        async with gate:
            try:
                outcome = await _upgrade_schema(db, target, head, extra_version_locations)
            except Exception as error:
                report.failed[target.schema_name] = _describe(error)
                outcome = "failed"
            else:
                (report.upgraded if outcome == "upgraded" else report.up_to_date).append(target.schema_name)
            if on_done is not None:
                on_done(target, outcome)

    await asyncio.gather(*(one(target) for target in targets))
    report.seconds = time.perf_counter() - started
    return report


async def _upgrade_schema(db: Database, target: SchemaTarget, head: str, extra: tuple[str, ...]) -> str:
    async with db.engine_for(target).begin() as conn:
        found = await conn.scalar(
            sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": target.schema_name}
        )
        if found is None:
            raise LookupError(f"schema {target.schema_name} does not exist")
        await conn.execute(
            sa.text("SELECT set_config('search_path', :schema, true)"),
            {"schema": target.schema_name},
        )
        current = await current_tenant_revision(conn)
        if current == head:
            return "up-to-date"
        await replay_sql(conn, tenant_upgrade_sql(current, extra))
        return "upgraded"


def _describe(error: BaseException) -> str:
    """One line naming what failed, without driver noise (the SQL of a statement, parameters)."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return f"{type(original).__name__}: {text}"
