"""History cannot be rewritten: the timeline (``complaint_event``) and the audit log
(``audit_event``) refuse UPDATE, DELETE and TRUNCATE from the tenant's own role.

Why the SQLSTATE is asserted, not just "some database error": a test that accepts any error also
passes when the statement is refused for a typo, and so never notices the refusal itself has gone.
The refusal today comes from the ``forbid_change`` trigger (``<table> is append-only``, SQLSTATE
42501); DESIGN.md section 9 moves it to privileges for Citus later, which answers 42501
``permission denied`` too. Either mechanism passes; any other error, or none, fails.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from lapor.tenants.context import tenant_transaction
from lapor.tenants.tables import audit_event, complaint_event
from tests.complaint_helpers import sample

INSUFFICIENT_PRIVILEGE = "42501"


async def _history(db, tenant, complaints) -> dict[str, int]:
    """One timeline row (a real submission) and one audit row, written as the tenant's role."""
    sent = await complaints.submit(tenant, sample())
    async with tenant_transaction(db, tenant) as conn:
        event_id = await conn.scalar(
            sa.select(sa.func.min(complaint_event.c.id)).where(
                complaint_event.c.complaint_id == sent.complaint.id
            )
        )
        audit_id = await conn.scalar(
            audit_event.insert()
            .values(
                actor="staff:uji", action="reporter.read", entity="complaint", entity_id=sent.complaint.id
            )
            .returning(audit_event.c.id)
        )
    assert event_id is not None and audit_id is not None
    return {"complaint_event": event_id, "audit_event": audit_id}


def _statements(table: str, row_id: int) -> list[str]:
    column = "note" if table == "complaint_event" else "action"
    return [
        f"UPDATE {table} SET {column} = 'ditulis ulang' WHERE id = {row_id}",
        f"DELETE FROM {table} WHERE id = {row_id}",
        f"TRUNCATE {table}",
    ]


def _refused_for_privilege(error: DBAPIError, table: str) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    message = str(error.orig)
    return sqlstate == INSUFFICIENT_PRIVILEGE and (
        f"{table} is append-only" in message or "permission denied" in message
    )


@pytest.mark.parametrize("table", ["complaint_event", "audit_event"])
async def test_history_tables_refuse_update_delete_and_truncate(db, make_regency, complaints, table) -> None:
    """As the tenant role (the role every request runs as), each rewrite is refused with
    insufficient_privilege and the row is still there, unchanged, afterwards."""
    tenant = await make_regency()
    ids = await _history(db, tenant, complaints)
    target = complaint_event if table == "complaint_event" else audit_event
    async with tenant_transaction(db, tenant) as conn:
        before = (await conn.execute(sa.select(target).where(target.c.id == ids[table]))).one()
    for statement in _statements(table, ids[table]):
        with pytest.raises(DBAPIError) as refused:
            async with tenant_transaction(db, tenant) as conn:
                assert await conn.scalar(sa.text("SELECT current_user")) == tenant.role_name
                await conn.execute(sa.text(statement))
        assert _refused_for_privilege(refused.value, table), (
            f"{statement!r} must be refused as append-only or for privilege, got "
            f"{getattr(refused.value.orig, 'sqlstate', None)}: {refused.value.orig}"
        )
    async with tenant_transaction(db, tenant) as conn:
        after = (await conn.execute(sa.select(target).where(target.c.id == ids[table]))).one()
        rows = await conn.scalar(sa.select(sa.func.count()).select_from(target))
    assert after == before and rows >= 1
