"""Audited reads: when the caller's reads must be logged (the Ombudsman reading a tenant's
complaints with a national token), each complaint returned is written to the tenant's audit log
in the request's own transaction; so is each ``transfers`` page and each ``complaintEvents``
subscription and event (issue 9 item 14)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.schema.context import LaporContext
from lapor.tenants.actors import Actor
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.context import tenant_transaction
from lapor.tenants.tables import audit_event
from lapor.tenants.transfers.ledger import TransferRecord


async def audit_complaint_reads(context: LaporContext, records: Sequence[ComplaintRecord]) -> None:
    actor = context.actor
    if actor is None or not actor.audit_reads or not records:
        return
    rows = [
        {
            "actor": actor.label,
            "action": "complaint.read",
            "entity": "complaint",
            "entity_id": record.id,
            "details": {
                "tracking_id": record.tracking_id,
                "client_id": actor.client_id,
                "subject": actor.subject,
            },
        }
        for record in records
    ]

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(sa.insert(audit_event), rows)

    await context.reader.run(write)


def _who(actor: Actor) -> dict[str, object]:
    return {"client_id": actor.client_id, "subject": actor.subject}


async def audit_transfer_reads(
    context: LaporContext, direction: str, records: Sequence[TransferRecord]
) -> None:
    """One row per ``transfers`` read by a cross-tenant reader (issue 9 item 14): the ledger names
    tracking ids and the agencies a complaint went between, so a page read is audited like a
    complaint read, in the same transaction. An empty page is a read too: it says none moved."""
    actor = context.actor
    if actor is None or not actor.audit_reads:
        return
    row = {
        "actor": actor.label,
        "action": "transfer.list",
        "entity": "transfer",
        "entity_id": None,
        "details": {
            "direction": direction,
            "tracking_ids": [record.tracking_id for record in records],
            **_who(actor),
        },
    }

    async def write(conn: AsyncConnection) -> None:
        await conn.execute(sa.insert(audit_event), [row])

    await context.reader.run(write)


async def audit_event_read(
    context: LaporContext, actor: Actor, action: str, details: dict[str, object]
) -> None:
    """One row for a cross-tenant reader's ``complaintEvents``: when it subscribes
    (``complaint_events.subscribe``) and for each event delivered (``complaint_event.read``),
    written before the event leaves. A subscription outlives any request transaction (the
    websocket's context is shared by all its operations), so each row has a short one of its
    own; if it cannot be written, the event is not sent."""
    if not actor.audit_reads:
        return
    row = {
        "actor": actor.label,
        "action": action,
        "entity": "complaint",
        "entity_id": None,
        "details": {**details, **_who(actor)},
    }
    async with tenant_transaction(context.services.db, context.tenant) as conn:
        await conn.execute(sa.insert(audit_event), [row])
