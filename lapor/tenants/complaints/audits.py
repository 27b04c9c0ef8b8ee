"""The audit rows of reads, written in the reader's own transaction (so a read that is answered
is a read that is logged; a rolled-back request logs nothing it did not show).

Three kinds, each written once per read by ``ComplaintReads``:

* ``complaint.read``: each complaint returned to an actor whose reads are audited (the
  Ombudsman reading a tenant's complaints with a national token), one row per complaint;
* ``complaint.count``: a count (a connection's total, the queue's counts per status) read by
  such an actor, one row per count;
* ``reporter.read``: each reporter identity revealed (scope ``reporters:read``), whoever reads.

The row shapes are the ones the GraphQL layer wrote before the read path moved here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.tenants.actors import Actor
from lapor.tenants.tables import audit_event

COMPLAINT_READ = "complaint.read"
COMPLAINT_COUNT = "complaint.count"
REPORTER_READ = "reporter.read"


def _who(actor: Actor) -> dict[str, Any]:
    return {"client_id": actor.client_id, "subject": actor.subject}


def complaint_reads(actor: Actor, complaints: Iterable[tuple[int, str]]) -> list[dict[str, Any]]:
    """Rows for ``(id, tracking_id)`` pairs returned to ``actor``; none unless it is audited."""
    if not actor.audit_reads:
        return []
    return [
        {
            "actor": actor.label,
            "action": COMPLAINT_READ,
            "entity": "complaint",
            "entity_id": complaint_id,
            "details": {"tracking_id": tracking_id, **_who(actor)},
        }
        for complaint_id, tracking_id in complaints
    ]


def complaint_count(actor: Actor, what: str, figures: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row for a count read by an audited actor: which count, and what it said."""
    if not actor.audit_reads:
        return []
    return [
        {
            "actor": actor.label,
            "action": COMPLAINT_COUNT,
            "entity": "complaint",
            "entity_id": None,
            "details": {"count": what, **figures, **_who(actor)},
        }
    ]


def reporter_reads(actor: Actor, reporter_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Rows for each reporter identity revealed to ``actor`` (every reveal, audited or not)."""
    return [
        {"actor": actor.label, "action": REPORTER_READ, "entity": "reporter", "entity_id": key}
        for key in reporter_ids
    ]


async def write(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (one statement; nothing when there are none)."""
    if rows:
        await conn.execute(sa.insert(audit_event), rows)
