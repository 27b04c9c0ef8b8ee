"""Audited reads: when the caller's reads must be logged (the Ombudsman reading a tenant's
complaints with a national token), each complaint returned is written to the tenant's audit log
in the request's own transaction."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.schema.context import LaporContext
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.tables import audit_event


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
