"""Keeping the national index in step: every write to a complaint also writes its PII-free row
in ``public.national_complaint``, in the same transaction (DESIGN.md section 5).

The tenant role cannot touch ``public``; it calls ``public.lapor_index_complaint``, which knows
the tenant from the transaction's role, so no tenant can write another's rows.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.tenants.complaints.records import ComplaintRecord

_INDEX = sa.text("SELECT public.lapor_index_complaint(CAST(:doc AS jsonb))")

# SQLAlchemy does not correlate a scalar subquery inside RETURNING, so it is written out.
CATEGORY_CODE = sa.literal_column(
    "(SELECT category.code FROM category WHERE category.id = complaint.category_id)"
).label("category_code")
"""Add to a complaint statement's RETURNING so the index needs no extra query."""


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


async def index_complaint(conn: AsyncConnection, record: ComplaintRecord, category_code: str | None) -> None:
    doc = {
        "tracking_id": record.tracking_id,
        "kind": record.kind.value,
        "channel": record.channel.value,
        "status": record.status.value,
        "category_code": category_code,
        "region_code": record.region_code,
        "priority": record.priority.value,
        "origin_tenant": record.origin_tenant,
        "submitted_at": _iso(record.submitted_at),
        "verified_at": _iso(record.verified_at),
        "assigned_at": _iso(record.assigned_at),
        "first_response_at": _iso(record.first_response_at),
        "closed_at": _iso(record.closed_at),
        "closed_how": record.closed_how.value if record.closed_how else None,
        "outcome": record.outcome.value if record.outcome else None,
        "deadline_at": _iso(record.deadline_at),
        "reopen_count": record.reopen_count,
    }
    await conn.execute(_INDEX, {"doc": json.dumps(doc)})
