"""Isolation at the database: the tenant role and search_path are the walls."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import ProgrammingError

from lapor.platform.db import Database
from lapor.settings import Settings
from lapor.tenants.context import tenant_transaction
from lapor.tenants.tables import unit


async def _add_unit(db: Database, tenant, code: str) -> None:
    async with tenant_transaction(db, tenant) as conn:
        await conn.execute(unit.insert().values(code=code, name=f"Unit {code}"))


def _permission_denied(error: ProgrammingError) -> bool:
    return getattr(error.orig, "sqlstate", None) == "42501"


async def test_reading_another_tenants_schema_is_refused(db, make_regency) -> None:
    a, b = await make_regency(), await make_regency()
    await _add_unit(db, b, "B-ONLY")
    with pytest.raises(ProgrammingError) as refused:
        async with tenant_transaction(db, a) as conn:
            await conn.execute(sa.text(f"SELECT * FROM {b.schema_name}.unit"))
    assert _permission_denied(refused.value)


async def test_writing_another_tenants_schema_is_refused(db, make_regency) -> None:
    a, b = await make_regency(), await make_regency()
    with pytest.raises(ProgrammingError) as refused:
        async with tenant_transaction(db, a) as conn:
            await conn.execute(sa.text(f"INSERT INTO {b.schema_name}.unit (code, name) VALUES ('X', 'x')"))
    assert _permission_denied(refused.value)
    async with tenant_transaction(db, b) as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(unit)) == 0


async def test_tenant_role_cannot_read_the_registry_or_change_its_schema(db, make_regency) -> None:
    a = await make_regency()
    for statement in (
        "SELECT * FROM public.tenant",
        "CREATE TABLE sneaky (id int)",
        "DROP TABLE unit",
        "UPDATE alembic_version SET version_num = 'x'",
    ):
        with pytest.raises(ProgrammingError) as refused:
            async with tenant_transaction(db, a) as conn:
                await conn.execute(sa.text(statement))
        assert _permission_denied(refused.value), statement


async def test_unqualified_names_reach_only_the_entered_tenant(db, make_regency) -> None:
    a, b = await make_regency(), await make_regency()
    await _add_unit(db, a, "A-1")
    await _add_unit(db, b, "B-1")
    async with tenant_transaction(db, a) as conn:
        assert (await conn.scalars(sa.select(unit.c.code))).all() == ["A-1"]
    async with tenant_transaction(db, b) as conn:
        assert (await conn.scalars(sa.select(unit.c.code))).all() == ["B-1"]


async def test_no_leak_through_a_pool_of_one_connection(
    settings: Settings, database_url, make_regency
) -> None:
    """Alternate tenants on one pooled connection: each sees its own rows; state resets between."""
    a, b = await make_regency(), await make_regency()
    single = Database(database_url, settings, pool_size=1, max_overflow=0)
    try:
        await _add_unit(single, a, "A-ROW")
        await _add_unit(single, b, "B-ROW")
        backend_pids = set()
        for round_number in range(40):
            tenant, own = (a, "A-ROW") if round_number % 2 == 0 else (b, "B-ROW")
            async with tenant_transaction(single, tenant) as conn:
                codes = (await conn.scalars(sa.select(unit.c.code))).all()
                assert codes == [own]
                assert await conn.scalar(sa.text("SELECT current_user")) == tenant.role_name
            async with single.public.connect() as conn:
                backend_pids.add(await conn.scalar(sa.text("SELECT pg_backend_pid()")))
                assert await conn.scalar(sa.text("SELECT current_user")) == await conn.scalar(
                    sa.text("SELECT session_user")
                )
                assert await conn.scalar(sa.text("SHOW search_path")) == '"$user", public'
        assert len(backend_pids) == 1, "the test must really reuse one connection"
    finally:
        await single.dispose()


async def test_a_tenant_transaction_leaves_a_plain_connection_at_the_defaults(
    settings: Settings, database_url, make_regency
) -> None:
    """Directly: one pooled connection, one committed tenant transaction, then a plain connection
    on the very same backend must show the session's own role and the default search_path, with
    no ``role`` setting left behind (``set_config(..., false)`` would leave both)."""
    a = await make_regency()
    single = Database(database_url, settings, pool_size=1, max_overflow=0)
    try:
        async with single.public.connect() as conn:
            pid = await conn.scalar(sa.text("SELECT pg_backend_pid()"))
            defaults = (await conn.execute(sa.text(_SESSION_STATE))).one()
        async with tenant_transaction(single, a) as conn:
            assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) == pid
            inside = (await conn.execute(sa.text(_SESSION_STATE))).one()
        assert inside == (a.role_name, a.schema_name, a.role_name), "the tenant transaction did not enter"
        async with single.public.connect() as conn:
            assert await conn.scalar(sa.text("SELECT pg_backend_pid()")) == pid, "not the same connection"
            after = (await conn.execute(sa.text(_SESSION_STATE))).one()
        assert after == defaults, f"tenant state outlived its transaction: {after} (defaults {defaults})"
        assert after[1] == '"$user", public' and after[2] == "none"
    finally:
        await single.dispose()


_SESSION_STATE = "SELECT current_user, current_setting('search_path'), current_setting('role')"


async def test_failed_transaction_leaves_the_connection_clean(settings, database_url, make_regency) -> None:
    a = await make_regency()
    single = Database(database_url, settings, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(RuntimeError):
            async with tenant_transaction(single, a) as conn:
                await conn.execute(unit.insert().values(code="ROLLED-BACK", name="x"))
                raise RuntimeError("request failed")
        async with single.public.connect() as conn:
            assert await conn.scalar(sa.text("SELECT current_user = session_user"))
            assert await conn.scalar(sa.text("SHOW search_path")) == '"$user", public'
        async with tenant_transaction(single, a) as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(unit)) == 0
    finally:
        await single.dispose()


async def test_national_index_rows_carry_the_writing_tenant_only(db, make_regency, complaints) -> None:
    """The index function takes the tenant from the transaction's role: no tenant can write,
    or read, another tenant's index rows."""
    import json

    from lapor.platform.public_tables import national_complaint
    from tests.complaint_helpers import sample

    a, b = await make_regency(), await make_regency()
    sent = await complaints.submit(a, sample())
    async with db.public.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(national_complaint.c.tenant_slug, national_complaint.c.status).where(
                    national_complaint.c.tracking_id == sent.complaint.tracking_id
                )
            )
        ).all()
    assert rows == [(a.slug, "SUBMITTED")]
    forged = {"tracking_id": "FORGED-1", "kind": "COMPLAINT", "channel": "WEB", "status": "CLOSED",
              "priority": "NORMAL", "submitted_at": "2026-01-01T00:00:00+00:00", "reopen_count": 0}  # fmt: skip
    async with tenant_transaction(db, b) as conn:
        await conn.execute(
            sa.text("SELECT public.lapor_index_complaint(CAST(:d AS jsonb))"), {"d": json.dumps(forged)}
        )
    async with db.public.connect() as conn:
        holder = await conn.scalar(
            sa.select(national_complaint.c.tenant_slug).where(national_complaint.c.tracking_id == "FORGED-1")
        )
    assert holder == b.slug, "whatever a tenant writes is filed under its own slug"
    # A payload naming another tenant (every spelling a broken function might honour) is still
    # filed under the caller, and the other tenant's real row is left as it was.
    for field in ("tenant_slug", "tenant", "slug", "holder"):
        smuggled = {**forged, "tracking_id": f"FORGED-{field}", field: a.slug}
        overwrite = {**forged, "tracking_id": sent.complaint.tracking_id, "status": "CLOSED", field: a.slug}
        async with tenant_transaction(db, b) as conn:
            for payload in (smuggled, overwrite):
                await conn.execute(
                    sa.text("SELECT public.lapor_index_complaint(CAST(:d AS jsonb))"),
                    {"d": json.dumps(payload)},
                )
        async with db.public.connect() as conn:
            filed = (
                await conn.execute(
                    sa.select(national_complaint.c.tenant_slug, national_complaint.c.status)
                    .where(
                        national_complaint.c.tracking_id.in_([f"FORGED-{field}", sent.complaint.tracking_id])
                    )
                    .order_by(national_complaint.c.tenant_slug, national_complaint.c.tracking_id)
                )
            ).all()
        expected = sorted([(a.slug, "SUBMITTED"), (b.slug, "CLOSED"), (b.slug, "CLOSED")])
        assert sorted(filed) == expected, f"{field} in the payload chose the row's tenant: {filed}"
    with pytest.raises(ProgrammingError) as refused:
        async with tenant_transaction(db, b) as conn:
            await conn.execute(sa.text("SELECT count(*) FROM public.national_complaint"))
    assert _permission_denied(refused.value)
    with pytest.raises(ProgrammingError):
        async with db.public.begin() as conn:  # outside any tenant: refused too
            await conn.execute(
                sa.text("SELECT public.lapor_index_complaint(CAST(:d AS jsonb))"), {"d": json.dumps(forged)}
            )
