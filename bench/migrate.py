"""P4 (DESIGN.md section 10): one tenant migration over 700 schemas in under 10 s, a no-op run under 5 s.

In a scratch database with ``--tenants`` provisioned tenants, a temporary tenant revision (a new
nullable column on ``unit`` and an index on it) is written to a temporary directory and applied
with ``upgrade_tenants`` (``--workers`` schemas at a time, one transaction per schema, the SQL
emitted once). Then the same call again, with nothing left to apply: the cost of ``lapor migrate``
on every deploy. Both times include loading the migration graph and emitting the SQL, once each.

    .venv/bin/python bench/migrate.py --tenants 700 --workers 8
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from _common import load_line, machine_line, provision_all

from lapor.platform.db import Database
from lapor.platform.migrations import (
    SchemaTarget,
    TenantMigrationReport,
    head_revision,
    upgrade_public,
    upgrade_tenants,
)
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.registry import list_tenants

REVISION = '''"""bench: a nullable column and an index on unit.

Revision ID: bench_note
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "bench_note"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("unit", sa.Column("bench_note", sa.Text(), nullable=True))
    op.create_index("unit_bench_note_idx", "unit", ["bench_note"])


def downgrade():
    op.drop_index("unit_bench_note_idx", table_name="unit")
    op.drop_column("unit", "bench_note")
'''


def outcome(report: TenantMigrationReport) -> str:
    return (
        f"upgraded {len(report.upgraded)}, up to date {len(report.up_to_date)}, failed {len(report.failed)}"
    )


def write_revision(directory: str) -> str:
    """Write the bench revision on top of the current tenant head; return that head."""
    head = head_revision("tenant")
    Path(directory, "bench_note.py").write_text(REVISION.format(down=head))
    return head


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=700)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(load_line())
    print(f"tenants: {args.tenants}, workers: {args.workers}")

    with (
        tempfile.TemporaryDirectory(prefix="lapor-bench-") as tmp,
        scratch_database(admin_url, "bench") as url,
    ):
        extra = (tmp,)
        base_head = write_revision(tmp)
        db = Database(url, Settings(), pool_size=args.workers + 1)
        try:
            await upgrade_public(db)
            started = time.perf_counter()
            await provision_all(db, args.tenants, tasks=4)
            print(f"provisioned {args.tenants} tenants in {time.perf_counter() - started:.1f} s (4 tasks)")
            targets = [SchemaTarget(t.slug, t.schema_name, t.cluster) for t in await list_tenants(db)]

            started = time.perf_counter()
            applied = await upgrade_tenants(db, targets, workers=args.workers, extra_version_locations=extra)
            apply_seconds = time.perf_counter() - started
            started = time.perf_counter()
            noop = await upgrade_tenants(db, targets, workers=args.workers, extra_version_locations=extra)
            noop_seconds = time.perf_counter() - started

            async with db.public.connect() as conn:
                with_column = await conn.scalar(
                    sa.text(
                        "SELECT count(DISTINCT table_schema) FROM information_schema.columns "
                        "WHERE table_name = 'unit' AND column_name = 'bench_note' "
                        "AND table_schema LIKE 't\\_%'"
                    )
                )
                with_index = await conn.scalar(
                    sa.text("SELECT count(*) FROM pg_indexes WHERE indexname = 'unit_bench_note_idx'")
                )
        finally:
            await db.dispose()

    print(f"migration {base_head} -> {applied.head}")
    print(f"apply:  {apply_seconds:.2f} s for {len(targets)} schemas (target < 10 s); {outcome(applied)}")
    print(f"no-op:  {noop_seconds:.2f} s for {len(targets)} schemas (target < 5 s); {outcome(noop)}")
    print(f"check:  column in {with_column} schemas, index in {with_index} schemas, of {len(targets)}")
    failures = {**applied.failed, **noop.failed}
    for schema, error in list(failures.items())[:5]:
        print(f"  FAILED {schema}: {error}")
    ok = not failures and len(applied.upgraded) == with_column == with_index == len(targets)
    print("result: OK" if ok else "result: NOT OK")

    print(load_line())


if __name__ == "__main__":
    asyncio.run(main())
