"""P3 (DESIGN.md section 10): provisioning 700 tenants in under 30 s, at most 2x the raw DDL replay.

Measured in one scratch database, in one run, the three taking turns tenant by tenant (a noisy
VM then skews them alike, and each runs on the same catalog size):

(a) full provisioning through ``Provisioner.create``: validation, registry row, schema, role,
    grants, tables and seed categories in one transaction (the national tenant, the provinces,
    then regencies and cities), one tenant per call as ``lapor tenants create`` does it;
(b) the raw DDL replay of the same schema: ``CREATE SCHEMA`` + ``SET LOCAL search_path`` + the
    tenant track's base-to-head SQL, one transaction per schema (no registry row, role or grants):
    the floor provisioning cannot beat;
(c) the alternative design, cloning a template schema: ``CREATE TABLE ... (LIKE template.t
    INCLUDING ALL)`` per table and a copy of the seed rows. ``LIKE`` does not copy foreign keys
    (the clone loses ``unit.parent_id -> unit.id``), so a real implementation would have to add them.

Then (a) once more in a second scratch database with ``--tasks`` concurrent provisioning calls.

    .venv/bin/python bench/provision.py --tenants 700
"""

from __future__ import annotations

import argparse
import asyncio
import time

import sqlalchemy as sa
from _common import load_line, machine_line, provision_all, summary_ms, tenant_specs

from lapor.platform.db import Database
from lapor.platform.migrations import replay_sql, tenant_upgrade_sql, upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.provisioning import Provisioner

TEMPLATE = "template_tenant"


async def raw_replay(db: Database, schema: str) -> float:
    """(b): one transaction replaying the base-to-head SQL into a new schema; its seconds."""
    started = time.perf_counter()
    async with db.public.begin() as conn:
        await replay_sql(
            conn, f"CREATE SCHEMA {schema};\nSET LOCAL search_path TO {schema};\n{tenant_upgrade_sql(None)}"
        )
    return time.perf_counter() - started


async def clone_script(db: Database) -> str:
    """Create the template schema once; return the per-tenant clone SQL with ``{schema}`` to fill."""
    async with db.public.begin() as conn:
        await replay_sql(
            conn,
            f"CREATE SCHEMA {TEMPLATE};\nSET LOCAL search_path TO {TEMPLATE};\n{tenant_upgrade_sql(None)}",
        )
        tables = (
            await conn.scalars(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :s ORDER BY tablename"),
                {"s": TEMPLATE},
            )
        ).all()
        identity = dict(
            (
                await conn.execute(
                    sa.text(
                        "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = :s AND is_identity = 'YES'"
                    ),
                    {"s": TEMPLATE},
                )
            ).all()
        )
        seeded = [t for t in tables if await conn.scalar(sa.text(f"SELECT count(*) FROM {TEMPLATE}.{t}"))]
    lines = ["CREATE SCHEMA {schema};"]
    lines += [f"CREATE TABLE {{schema}}.{t} (LIKE {TEMPLATE}.{t} INCLUDING ALL);" for t in tables]
    for table in seeded:
        lines.append(f"INSERT INTO {{schema}}.{table} SELECT * FROM {TEMPLATE}.{table};")
        if table in identity:  # the clone's identity sequence starts at 1: move it past the seed rows
            column = identity[table]
            lines.append(
                f"SELECT setval(pg_get_serial_sequence('{{schema}}.{table}', '{column}'), "
                f"(SELECT max({column}) FROM {TEMPLATE}.{table}));"
            )
    return "\n".join(lines)


async def clone(db: Database, script: str, schema: str) -> float:
    """(c): one transaction cloning the template into a new schema; its seconds."""
    started = time.perf_counter()
    async with db.public.begin() as conn:
        await replay_sql(conn, script.format(schema=schema))
    return time.perf_counter() - started


async def relation_files(db: Database, schema: str) -> int:
    """Files PostgreSQL creates for one tenant schema: every table, index and sequence, plus the
    TOAST table and TOAST index of tables that have one. Creating files is most of the cost."""
    async with db.public.connect() as conn:
        return await conn.scalar(
            sa.text(
                "SELECT count(*) + 2 * count(*) FILTER (WHERE c.reltoastrelid <> 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s AND c.relfilenode <> 0"
            ),
            {"s": schema},
        )


async def foreign_keys(db: Database, schema: str) -> int:
    async with db.public.connect() as conn:
        return await conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.contype = 'f' AND n.nspname = :s"
            ),
            {"s": schema},
        )


async def interleaved(url: str, count: int) -> tuple[list[float], list[float], list[float], str]:
    """(a), (b) and (c) taking turns tenant by tenant, so that their ratios compare like with like.

    The total for (a) is the sum of its calls: the wall time of provisioning one tenant after another.
    """
    provisioned, raw, cloned = [], [], []
    db = Database(url, Settings(), pool_size=4)
    try:
        await upgrade_public(db)
        provisioner = Provisioner(db, "localhost")
        script = await clone_script(db)
        for number, spec in enumerate(tenant_specs(count), start=1):
            started = time.perf_counter()
            await provisioner.create(spec)
            provisioned.append(time.perf_counter() - started)
            raw.append(await raw_replay(db, f"raw_{number:04d}"))
            cloned.append(await clone(db, script, f"clone_{number:04d}"))
        fk_note = f"foreign keys: template {await foreign_keys(db, TEMPLATE)}, "
        fk_note += f"clone {await foreign_keys(db, 'clone_0001')}"
        print(f"relation files per tenant schema: {await relation_files(db, 'raw_0001')}")
    finally:
        await db.dispose()
    return provisioned, raw, cloned, fk_note


async def concurrent(url: str, count: int, tasks: int) -> float:
    """(a) with ``tasks`` provisioning calls at a time (parents first, one by one); wall seconds."""
    db = Database(url, Settings(), pool_size=max(4, tasks))
    try:
        await upgrade_public(db)
        started = time.perf_counter()
        await provision_all(db, count, tasks=tasks)
        return time.perf_counter() - started
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=700)
    parser.add_argument("--tasks", type=int, default=4, help="concurrent provisioning calls in the extra run")
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(load_line())
    print(f"tenants: {args.tenants}")

    started = time.perf_counter()
    tenant_upgrade_sql(None)  # emitted once per process, not per tenant
    print(f"tenant SQL emitted (once per process): {(time.perf_counter() - started) * 1000:.0f} ms")

    # Both scratch databases are dropped at the end only: dropping one removes tens of thousands of
    # files, which slows file creation for minutes on some file systems (see bench/RESULTS.md).
    with scratch_database(admin_url, "bench") as url, scratch_database(admin_url, "bench") as url2:
        provisioned, raw, cloned, fk_note = await interleaved(url, args.tenants)
        concurrent_total = await concurrent(url2, args.tenants, args.tasks)

    mean = {name: sum(d) / len(d) for name, d in (("a", provisioned), ("b", raw), ("c", cloned))}
    total = sum(provisioned)
    print(f"(a) provisioning, sequential: {total:.1f} s for {args.tenants} tenants (target < 30 s)")
    print(f"    per tenant {summary_ms(provisioned)}")
    print(f"(a) provisioning, {args.tasks} tasks:  {concurrent_total:.1f} s for {args.tenants} tenants")
    print(f"    per tenant ~{concurrent_total / args.tenants * 1000:.2f} ms of wall time")
    print(f"(b) raw DDL replay:          per schema {summary_ms(raw)}")
    print(f"(c) template clone (LIKE):   per schema {summary_ms(cloned)}")
    print(f"    {fk_note} (LIKE ... INCLUDING ALL does not copy foreign keys)")
    print(f"a/b = {mean['a'] / mean['b']:.2f} (target <= 2.0); c/b = {mean['c'] / mean['b']:.2f}")

    print(load_line())


if __name__ == "__main__":
    asyncio.run(main())
