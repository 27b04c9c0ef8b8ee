"""The transfer ledger in ``public``: one row per transfer, the audit trail of who moved what.

Tenant transactions have no privileges on ``public``; they write and read the ledger through the
SECURITY DEFINER functions of migration p0005, which take the tenant from the transaction's role.
So a tenant can only ever record transfers it takes part in, and only ever list its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.errors import DomainError
from lapor.tenants.complaints.queries import page_size
from lapor.tenants.enums import TransferKind

_RECORD = sa.text("SELECT * FROM public.lapor_record_transfer(CAST(:doc AS jsonb))")
_LIST = sa.text(
    "SELECT * FROM public.lapor_tenant_transfers(CAST(:direction AS text), CAST(:before_at AS timestamptz), "
    "CAST(:before_id AS bigint), CAST(:lim AS integer))"
)


class TransferDirection(enum.StrEnum):
    INCOMING = "INCOMING"
    OUTGOING = "OUTGOING"
    ALL = "ALL"


@dataclass(frozen=True, slots=True)
class TransferRecord:
    id: int
    tracking_id: str
    kind: TransferKind
    source_tenant: str
    target_tenant: str
    actor: str
    reason: str | None
    at: dt.datetime

    @classmethod
    def from_row(cls, row: sa.Row) -> TransferRecord:
        return cls(
            id=row.id,
            tracking_id=row.tracking_id,
            kind=TransferKind(row.kind),
            source_tenant=row.source_tenant,
            target_tenant=row.target_tenant,
            actor=row.actor,
            reason=row.reason,
            at=row.at,
        )


@dataclass(frozen=True)
class TransferPage:
    records: list[TransferRecord]
    cursors: list[str]
    has_next_page: bool


async def record_transfer(
    conn: AsyncConnection,
    *,
    tracking_id: str,
    kind: TransferKind,
    source_tenant: str,
    target_tenant: str,
    actor: str,
    reason: str | None,
) -> TransferRecord:
    """Write the ledger row; ``conn`` must be inside the source's or the target's transaction."""
    doc = {
        "tracking_id": tracking_id,
        "kind": kind.value,
        "source_tenant": source_tenant,
        "target_tenant": target_tenant,
        "actor": actor,
        "reason": reason,
    }
    row = (await conn.execute(_RECORD, {"doc": json.dumps(doc)})).one()
    return TransferRecord.from_row(row)


def _cursor(record: TransferRecord) -> str:
    raw = json.dumps([record.at.isoformat(), record.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, int]:
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(row_id, int):
            raise ValueError
        return dt.datetime.fromisoformat(at), row_id
    except (ValueError, TypeError):
        raise DomainError("INVALID_CURSOR", "the cursor is not valid for this list", "after") from None


async def list_transfers(
    conn: AsyncConnection,
    direction: TransferDirection = TransferDirection.ALL,
    *,
    first: int | None = None,
    after: str | None = None,
) -> TransferPage:
    """The transfers of the tenant whose transaction ``conn`` is in, newest first."""
    size = page_size(first)
    before_at, before_id = _decode(after) if after else (None, None)
    rows = await conn.execute(
        _LIST,
        {"direction": direction.value, "before_at": before_at, "before_id": before_id, "lim": size + 1},
    )
    records = [TransferRecord.from_row(row) for row in rows]
    return TransferPage(
        records=records[:size],
        cursors=[_cursor(r) for r in records[:size]],
        has_next_page=len(records) > size,
    )
