"""The tenant track over many schemas: parallel, resumable, one failure named, others done."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from lapor.platform.migrations import (
    SchemaTarget,
    head_revision,
    public_revision,
    upgrade_public,
    upgrade_tenants,
)


def _write_revision(directory: Path, revision: str, down: str) -> None:
    directory.joinpath(f"{revision}_add_note.py").write_text(
        textwrap.dedent(
            f'''
            """Test-only: a nullable column with an index."""
            import sqlalchemy as sa
            from alembic import op

            revision = "{revision}"
            down_revision = "{down}"
            branch_labels = None
            depends_on = None


            def upgrade():
                op.add_column("unit", sa.Column("note", sa.Text(), nullable=True))
                op.create_index("unit_note_idx", "unit", ["note"])


            def downgrade():
                op.drop_index("unit_note_idx")
                op.drop_column("unit", "note")
            '''
        )
    )


async def _version_and_column(db, schema: str) -> tuple[str, bool]:
    async with db.public.connect() as conn:
        version = await conn.scalar(sa.text(f"SELECT version_num FROM {schema}.alembic_version"))
        has_column = await conn.scalar(
            sa.text(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = :s AND table_name = 'unit' AND column_name = 'note'"
            ),
            {"s": schema},
        )
    return version, bool(has_column)


async def test_public_track_is_at_head_and_idempotent(db) -> None:
    await upgrade_public(db)
    assert await public_revision(db) == head_revision("public")


async def test_one_failing_schema_is_named_and_the_others_upgrade(db, make_regency, tmp_path) -> None:
    tenants = [await make_regency() for _ in range(5)]
    broken = tenants[2]
    base = head_revision("tenant")
    revision = f"test{tmp_path.name[-8:].replace('-', '')}"
    _write_revision(tmp_path, revision, base)
    extra = (str(tmp_path),)
    async with db.public.begin() as conn:  # the column already exists there: ADD COLUMN fails
        await conn.execute(sa.text(f"ALTER TABLE {broken.schema_name}.unit ADD COLUMN note text"))

    targets = [SchemaTarget(t.slug, t.schema_name) for t in tenants]
    seen: list[tuple[str, str]] = []
    report = await upgrade_tenants(
        db,
        targets,
        workers=3,
        extra_version_locations=extra,
        on_done=lambda target, outcome: seen.append((target.schema_name, outcome)),
    )

    assert report.head == revision
    assert list(report.failed) == [broken.schema_name]
    assert (
        "note" in report.failed[broken.schema_name] and "already exists" in report.failed[broken.schema_name]
    )
    assert sorted(report.upgraded) == sorted(t.schema_name for t in tenants if t is not broken)
    assert len(seen) == 5 and dict(seen)[broken.schema_name] == "failed"
    for tenant in tenants:
        version, has_column = await _version_and_column(db, tenant.schema_name)
        if tenant is broken:
            assert version == base, "a failed schema is rolled back to where it stood"
        else:
            assert (version, has_column) == (revision, True)

    # Resumable: fix the broken schema, run again; only it is upgraded.
    async with db.public.begin() as conn:
        await conn.execute(sa.text(f"ALTER TABLE {broken.schema_name}.unit DROP COLUMN note"))
    again = await upgrade_tenants(db, targets, workers=3, extra_version_locations=extra)
    assert again.ok
    assert again.upgraded == [broken.schema_name]
    assert sorted(again.up_to_date) == sorted(t.schema_name for t in tenants if t is not broken)
    assert await _version_and_column(db, broken.schema_name) == (revision, True)

    # Leave the shared test database as every other test expects it: the revision written here
    # exists only in this test's directory, and a later `lapor serve` migrates every schema.
    async with db.public.begin() as conn:
        for tenant in tenants:
            await conn.execute(sa.text(f"ALTER TABLE {tenant.schema_name}.unit DROP COLUMN note"))
            await conn.execute(
                sa.text(f"UPDATE {tenant.schema_name}.alembic_version SET version_num = :base"), {"base": base}
            )


async def test_a_missing_schema_is_reported_not_fatal(db, make_regency) -> None:
    present = await make_regency()
    report = await upgrade_tenants(
        db, [SchemaTarget("ghost", "t_ghost_schema"), SchemaTarget(present.slug, present.schema_name)]
    )
    assert list(report.failed) == ["t_ghost_schema"]
    assert "does not exist" in report.failed["t_ghost_schema"]
    assert report.up_to_date == [present.schema_name]


@pytest.mark.parametrize("workers", [1, 8])
async def test_nothing_to_apply_is_a_no_op(db, make_regency, workers) -> None:
    tenants = [await make_regency() for _ in range(3)]
    report = await upgrade_tenants(
        db, [SchemaTarget(t.slug, t.schema_name) for t in tenants], workers=workers
    )
    assert report.ok and report.upgraded == [] and len(report.up_to_date) == 3
