"""GraphQL types of the national area. Descriptions carry the definitions: they are what
agencies are judged by (``lapor.tenants.national.stats`` explains the choices)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

import strawberry

from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.schema.common import PageInfo
from lapor.schema.complaints.enums import Channel, ComplaintKind, ComplaintStatus
from lapor.schema.context import LaporContext
from lapor.schema.tenants.types import Tenant
from lapor.schema.transfers.types import Transfer
from lapor.tenants.national import stats
from lapor.tenants.national.locate import Holding, Location
from lapor.tenants.records import Tenant as TenantRecord
from lapor.tenants.registry import list_tenants

Info = strawberry.Info[LaporContext, None]

StatsGroup = strawberry.enum(
    stats.Grouping,
    name="StatsGroup",
    description="How nationalStats groups: by tenant, by province (a regency or city counts for its "
    "province; national and ministries under a null key), by complaint kind, by category code, by "
    "channel, or by month of submission (Jakarta time, key YYYY-MM).",
)


@strawberry.type(
    description="Figures over the complaints submitted in a period, from the national index. A "
    "complaint transferred away counts as transferred for the tenant it left and as received only "
    "by the tenant holding it, so national totals count it once."
)
class ComplaintStats:
    received: int = strawberry.field(description="Complaints held (not transferred away).")
    verified: int = strawberry.field(description="Received and verified.")
    in_progress: int = strawberry.field(description="Now IN_PROGRESS (disposed to a unit).")
    responded: int = strawberry.field(description="Now RESPONDED (awaiting the reporter).")
    closed: int = strawberry.field(description="Now CLOSED.")
    archived: int = strawberry.field(description="Now ARCHIVED.")
    transferred: int = strawberry.field(description="Transferred to another tenant.")
    late: int = strawberry.field(
        description="The agency owes the next step (SUBMITTED, VERIFIED, IN_PROGRESS) and the deadline "
        "has passed."
    )
    followed_up: int = strawberry.field(description="Received and given a first response.")
    resolved: int = strawberry.field(description="Closed with outcome RESOLVED.")
    followed_up_rate: float | None = strawberry.field(description="followedUp / received (% tindak lanjut).")
    settlement_rate: float | None = strawberry.field(
        description="closed / received (% selesai); archived complaints stay in the denominator."
    )
    resolution_rate: float | None = strawberry.field(description="resolved / closed: closed is not fixed.")
    on_time_rate: float | None = strawberry.field(
        description="Of the complaints whose clock stopped (the agency acted) or ran out (late now), the "
        "share handled without ever passing a deadline (a late step or a restarted clock stays late). "
        "Counted per tenant that held the complaint: forwarding it late is late."
    )
    median_hours_to_first_response: float | None = strawberry.field(
        description="Median calendar hours from submission to the first response, over followed-up "
        "complaints; estimated from a histogram with four buckets per doubling (within 19% of 1 + hours)."
    )

    @classmethod
    def from_figures(cls, figures: stats.Figures) -> ComplaintStats:
        return cls(
            received=figures.received,
            verified=figures.verified,
            in_progress=figures.in_progress,
            responded=figures.responded,
            closed=figures.closed,
            archived=figures.archived,
            transferred=figures.transferred,
            late=figures.late,
            followed_up=figures.followed_up,
            resolved=figures.resolved,
            followed_up_rate=figures.followed_up_rate,
            settlement_rate=figures.settlement_rate,
            resolution_rate=figures.resolution_rate,
            on_time_rate=figures.on_time_rate,
            median_hours_to_first_response=figures.median_hours_to_first_response,
        )


class _Registry:
    """Every tenant, read once per request and only when a ``tenant`` field is asked for (the
    figures themselves carry slugs and names)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._by_slug: dict[str, TenantRecord] | None = None

    async def get(self, db: Database) -> dict[str, TenantRecord]:
        async with self._lock:
            if self._by_slug is None:
                self._by_slug = {t.slug: t for t in await list_tenants(db)}
            return self._by_slug


async def tenant_named(info: Info, slug: str | None) -> Tenant | None:
    if slug is None:
        return None
    registry: _Registry = info.context.loaders.setdefault("national.tenants", _Registry())
    record = (await registry.get(info.context.services.db)).get(slug)
    return Tenant.from_record(record) if record else None


@strawberry.type(description="One group of nationalStats.")
class StatsGroupEntry:
    key: str | None = strawberry.field(
        description="Tenant or province slug, kind, category code, channel, or YYYY-MM; null for complaints "
        "without a category, or (PROVINCE) for national and ministry tenants."
    )
    label: str | None = strawberry.field(description="The tenant's or province's name.")
    stats: ComplaintStats
    grouping: strawberry.Private[stats.Grouping]

    @strawberry.field(description="The tenant (TENANT) or province (PROVINCE) this group is, else null.")
    async def tenant(self, info: Info) -> Tenant | None:
        if self.grouping not in (stats.Grouping.TENANT, stats.Grouping.PROVINCE):
            return None
        return await tenant_named(info, self.key)


@strawberry.type(description="Figures per group and in total, for the country or a province's regencies.")
class NationalStats:
    from_: dt.datetime | None = strawberry.field(name="from")
    to: dt.datetime | None
    group_by: StatsGroup
    total: ComplaintStats = strawberry.field(description="All groups together.")
    groups: list[StatsGroupEntry]

    @classmethod
    def from_report(cls, report: stats.Report) -> NationalStats:
        return cls(
            from_=report.period.start,
            to=report.period.end,
            group_by=report.grouping,  # type: ignore[arg-type]
            total=ComplaintStats.from_figures(report.total),
            groups=[
                StatsGroupEntry(
                    key=g.key,
                    label=g.label,
                    stats=ComplaintStats.from_figures(g.figures),
                    grouping=report.grouping,
                )
                for g in report.groups
            ],
        )


@strawberry.type(description="A tenant's place in the ranking.")
class TenantRank:
    rank: int = strawberry.field(description="1 is best; tenants equal on every criterion share a rank.")
    slug: str
    name: str
    stats: ComplaintStats

    @strawberry.field
    async def tenant(self, info: Info) -> Tenant | None:
        return await tenant_named(info, self.slug)


@strawberry.type
class TenantRankEdge:
    cursor: str
    node: TenantRank


def ranking_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"rank:{offset}".encode()).decode().rstrip("=")


def ranking_offset(cursor: str | None) -> int:
    """The position after ``cursor`` (``INVALID_INPUT`` for anything that is not one)."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix == "rank" and number.isdigit() and len(number) < 7:
            return int(number) + 1
    except (ValueError, UnicodeDecodeError):
        pass
    raise DomainError("INVALID_INPUT", "after is not a cursor of this ranking", "after")


@strawberry.type(
    description="Tenants ranked by settlement rate, then on-time rate (higher first), ties by volume "
    "received (more first). Tenants that received nothing in the period are not ranked."
)
class TenantRankingConnection:
    edges: list[TenantRankEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Ranked tenants in all pages.")

    @strawberry.field
    def nodes(self) -> list[TenantRank]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_ranking(cls, ranking: stats.Ranking) -> TenantRankingConnection:
        edges = [
            TenantRankEdge(
                cursor=ranking_cursor(ranking.offset + i),
                node=TenantRank(
                    rank=entry.rank,
                    slug=entry.slug,
                    name=entry.name,
                    stats=ComplaintStats.from_figures(entry.figures),
                ),
            )
            for i, entry in enumerate(ranking.entries)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=ranking.offset + len(edges) < ranking.total_count,
                has_previous_page=ranking.offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=ranking.total_count,
        )


@strawberry.type(description="One tenant's index row for a complaint: its state there, no personal data.")
class ComplaintHolding:
    tenant_slug: str
    tenant_name: str | None
    status: ComplaintStatus = strawberry.field(description="TRANSFERRED where it was moved on from.")
    kind: ComplaintKind
    channel: Channel
    category_code: str | None
    region_code: str | None
    submitted_at: dt.datetime
    arrived_at: dt.datetime = strawberry.field(description="When it reached this tenant.")
    verified_at: dt.datetime | None
    first_response_at: dt.datetime | None
    closed_at: dt.datetime | None
    deadline_at: dt.datetime | None
    is_late: bool
    missed_deadline: bool = strawberry.field(description="A step here came after its deadline.")

    @strawberry.field
    async def tenant(self, info: Info) -> Tenant | None:
        return await tenant_named(info, self.tenant_slug)

    @classmethod
    def from_holding(cls, h: Holding) -> ComplaintHolding:
        return cls(
            tenant_slug=h.tenant_slug,
            tenant_name=h.tenant_name,
            status=h.status,  # type: ignore[arg-type]
            kind=h.kind,  # type: ignore[arg-type]
            channel=h.channel,  # type: ignore[arg-type]
            category_code=h.category_code,
            region_code=h.region_code,
            submitted_at=h.submitted_at,
            arrived_at=h.arrived_at,
            verified_at=h.verified_at,
            first_response_at=h.first_response_at,
            closed_at=h.closed_at,
            deadline_at=h.deadline_at,
            is_late=h.is_late,
            missed_deadline=h.missed_deadline,
        )


@strawberry.type(
    description="Where a complaint is now and every tenant that held it (national index and ledger)."
)
class ComplaintLocation:
    tracking_id: str
    holder: ComplaintHolding | None = strawberry.field(description="The tenant holding it now.")
    holdings: list[ComplaintHolding] = strawberry.field(description="Every tenant that held it, in order.")
    transfers: list[Transfer] = strawberry.field(description="Its moves between tenants, oldest first.")

    @classmethod
    def from_location(cls, location: Location) -> ComplaintLocation:
        return cls(
            tracking_id=location.tracking_id,
            holder=ComplaintHolding.from_holding(location.holder) if location.holder else None,
            holdings=[ComplaintHolding.from_holding(h) for h in location.holdings],
            transfers=[Transfer.from_record(m) for m in location.transfers],
        )
