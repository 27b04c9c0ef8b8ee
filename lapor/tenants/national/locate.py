"""``locateComplaint``: where a complaint is now and every tenant that held it, for the national
host. Read from the PII-free national index and the transfer ledger only (never a tenant's
schema), and audited like every cross-tenant read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import national_complaint, transfer
from lapor.platform.public_tables import tenant as tenant_table
from lapor.tenants.actors import Actor
from lapor.tenants.enums import Channel, ComplaintKind, ComplaintStatus
from lapor.tenants.national.rollup import OWED
from lapor.tenants.national.stats import audit, require_scope
from lapor.tenants.records import Tenant, TenantKind
from lapor.tenants.transfers.ledger import TransferRecord

nc = national_complaint


@dataclass(frozen=True, slots=True)
class Holding:
    """One tenant's index row for the complaint: its state there, without any personal data."""

    tenant_slug: str
    tenant_name: str | None
    status: ComplaintStatus
    kind: ComplaintKind
    channel: Channel
    category_code: str | None
    region_code: str | None
    submitted_at: dt.datetime
    verified_at: dt.datetime | None
    first_response_at: dt.datetime | None
    closed_at: dt.datetime | None
    deadline_at: dt.datetime | None
    missed_deadline: bool
    arrived_at: dt.datetime
    """When it reached this tenant: its first transfer here, else the submission."""
    is_late: bool


@dataclass(frozen=True, slots=True)
class Location:
    tracking_id: str
    holder: Holding | None
    """The tenant holding it now (the one row not TRANSFERRED)."""
    holdings: list[Holding]
    """Every tenant that held it, in the order it reached them."""
    transfers: list[TransferRecord]


_ROWS = (
    sa.select(nc, tenant_table.c.name.label("tenant_name"), sa.func.now().label("now"))
    .select_from(nc.outerjoin(tenant_table, tenant_table.c.slug == nc.c.tenant_slug))
    .where(nc.c.tracking_id == sa.bindparam("tid"))
)
_MOVES = (
    sa.select(transfer)
    .where(transfer.c.tracking_id == sa.bindparam("tid"))
    .order_by(transfer.c.at, transfer.c.id)
)


async def locate_complaint(db: Database, host: Tenant, actor: Actor, tracking_id: str) -> Location | None:
    """The complaint's holder and history, or ``None`` when no tenant ever indexed it."""
    if host.kind is not TenantKind.NATIONAL:
        raise DomainError("FORBIDDEN", "complaints are located across tenants on the national host only")
    require_scope(actor, "national:read")
    tid = tracking_id.strip().upper()
    if not tid or len(tid) > 64:
        raise DomainError("INVALID_INPUT", "trackingId must be 1 to 64 characters", "trackingId")
    async with db.public.begin() as conn:
        rows = list(await conn.execute(_ROWS, {"tid": tid}))
        moves = [TransferRecord.from_row(r) for r in await conn.execute(_MOVES, {"tid": tid})]
        await audit(conn, host, actor, "locateComplaint", trackingId=tid)
    if not rows:
        return None
    # Born where no row names another origin; every other tenant got it by its first transfer there.
    origin = next((r.origin_tenant for r in rows if r.origin_tenant), None) or rows[0].tenant_slug
    arrivals: dict[str, dt.datetime] = {}
    for move in moves:
        arrivals.setdefault(move.target_tenant, move.at)
    holdings = sorted(
        (
            Holding(
                tenant_slug=r.tenant_slug,
                tenant_name=r.tenant_name,
                status=ComplaintStatus(r.status),
                kind=ComplaintKind(r.kind),
                channel=Channel(r.channel),
                category_code=r.category_code,
                region_code=r.region_code,
                submitted_at=r.submitted_at,
                verified_at=r.verified_at,
                first_response_at=r.first_response_at,
                closed_at=r.closed_at,
                deadline_at=r.deadline_at,
                missed_deadline=r.missed_deadline,
                arrived_at=r.submitted_at
                if r.tenant_slug == origin
                else arrivals.get(r.tenant_slug, r.submitted_at),
                is_late=r.status in OWED and r.deadline_at is not None and r.deadline_at < r.now,
            )
            for r in rows
        ),
        key=lambda h: (h.arrived_at, h.tenant_slug),
    )
    current = [h for h in holdings if h.status is not ComplaintStatus.TRANSFERRED]
    return Location(tid, current[-1] if current else None, holdings, moves)
