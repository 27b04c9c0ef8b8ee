"""Query fields of the national area.

Who may call what depends on the host as well as the token (a province's ``stats:read`` opens
its regencies' figures, a regency's opens nothing wide), so the check is the service's
(``check_wide_view``), done once at the root field, never per item. Refusals are top-level
``FORBIDDEN`` errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from lapor.schema.context import LaporContext
from lapor.schema.national.types import (
    ComplaintLocation,
    ComplaintStats,
    NationalStats,
    StatsGroup,
    TenantRankingConnection,
    ranking_offset,
)
from lapor.schema.tenants.types import TenantKind
from lapor.tenants.national import locate, stats
from lapor.tenants.national.rollup import Period
from lapor.tenants.records import TenantKind as TenantKindEnum

Info = strawberry.Info[LaporContext, None]
MEDIAN = "medianHoursToFirstResponse"


def _asks_for(selections: Sequence[Selection], name: str) -> bool:
    """Whether ``name`` is selected anywhere below: the median needs 48 more sums per row, so
    it is computed only when asked for."""
    for selection in selections:
        if isinstance(selection, SelectedField) and selection.name == name:
            return True
        if _asks_for(getattr(selection, "selections", ()), name):
            return True
    return False


From = Annotated[
    dt.datetime | None,
    strawberry.argument(name="from", description="Submitted at or after (inclusive); open if omitted."),
]
To = Annotated[
    dt.datetime | None, strawberry.argument(description="Submitted before (exclusive); open if omitted.")
]


@strawberry.type
class NationalQuery:
    @strawberry.field(
        description="Figures grouped by groupBy: on the national host (scope national:read) for every "
        "tenant, on a province host (scope stats:read) for its regencies and cities. Every call is "
        "audited. Periods made of whole months (Jakarta time) are answered fastest."
    )
    async def national_stats(
        self,
        info: Info,
        group_by: StatsGroup,
        from_: From = None,
        to: To = None,
    ) -> NationalStats:
        context = info.context
        report = await stats.national_stats(
            context.services.db,
            context.tenant,
            context.staff(),
            Period(from_, to),
            stats.Grouping(group_by),
            median=_asks_for(info.selected_fields, MEDIAN),
        )
        return NationalStats.from_report(report)

    @strawberry.field(
        description="The ranking agencies are judged by (settlement rate, then on-time rate, ties by "
        "volume): every tenant, or those of one kind, on the national host (national:read); a "
        "province's regencies and cities on its host (stats:read). At most 100 per page."
    )
    async def tenant_ranking(
        self,
        info: Info,
        from_: From = None,
        to: To = None,
        kind: TenantKind | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> TenantRankingConnection:
        context = info.context
        actor = context.staff()
        ranking = await stats.tenant_ranking(
            context.services.db,
            context.tenant,
            actor,
            Period(from_, to),
            kind=TenantKindEnum(kind) if kind is not None else None,
            first=20 if first is None else first,
            offset=ranking_offset(after),
            median=_asks_for(info.selected_fields, MEDIAN),
        )
        return TenantRankingConnection.from_ranking(ranking)

    @strawberry.field(
        description="Where a complaint is now and every tenant that held it, by tracking id, without "
        "personal data. National host, scope national:read; audited."
    )
    async def locate_complaint(self, info: Info, tracking_id: str) -> ComplaintLocation | None:
        context = info.context
        found = await locate.locate_complaint(
            context.services.db, context.tenant, context.staff(), tracking_id
        )
        return ComplaintLocation.from_location(found) if found else None

    @strawberry.field(
        description="This tenant's own figures, by the definitions of nationalStats (scope stats:read)."
    )
    async def stats(
        self,
        info: Info,
        from_: From = None,
        to: To = None,
    ) -> ComplaintStats:
        context = info.context
        figures = await stats.tenant_stats(
            context.services.db, context.tenant, context.staff(), Period(from_, to)
        )
        return ComplaintStats.from_figures(figures)
