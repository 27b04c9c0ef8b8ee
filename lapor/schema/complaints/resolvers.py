"""Query fields of the complaints area: staff lists, the public feed, the reporter's tracking.

Each field translates its arguments, asks the domain read path (``ComplaintReads``: scope
checks, unit confinement, read audits) and translates the views it returns.
"""

from __future__ import annotations

import strawberry

from lapor.schema.complaints.enums import ComplaintOrder
from lapor.schema.complaints.inputs import ComplaintFilter, PublicComplaintFilter
from lapor.schema.complaints.permissions import ReadsComplaints
from lapor.schema.complaints.types import (
    Complaint,
    ComplaintConnection,
    ComplaintCounts,
    Counter,
    PublicComplaint,
    PublicComplaintConnection,
    TrackedComplaint,
)
from lapor.schema.context import LaporContext
from lapor.schema.dataloaders import complaint_reads
from lapor.tenants.complaints.queries import ComplaintFilter as DomainFilter
from lapor.tenants.complaints.queries import ComplaintOrder as DomainOrder
from lapor.tenants.complaints.reads import PublicFilter

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class ComplaintQuery:
    @strawberry.field(
        permission_classes=[ReadsComplaints],
        description="The tenant's complaints (a unit officer sees its unit's only). At most 100 per page.",
    )
    async def complaints(
        self,
        info: Info,
        filter: ComplaintFilter | None = None,
        order_by: ComplaintOrder = DomainOrder.SUBMITTED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
    ) -> ComplaintConnection:
        actor = info.context.staff()
        domain_filter = filter.to_domain() if filter else DomainFilter()
        reads = complaint_reads(info.context)
        page = await reads.list(actor, domain_filter, order=DomainOrder(order_by), first=first, after=after)
        return ComplaintConnection.from_page(page, Counter(lambda: reads.count(actor, domain_filter)))

    @strawberry.field(permission_classes=[ReadsComplaints])
    async def complaint(self, info: Info, tracking_id: str) -> Complaint | None:
        view = await complaint_reads(info.context).get(info.context.staff(), tracking_id)
        return Complaint.from_view(view) if view else None

    @strawberry.field(
        permission_classes=[ReadsComplaints],
        description="How many complaints are in each status (all statuses, or those of filter.status), "
        "for a staff queue; a unit officer counts its unit's only.",
    )
    async def complaint_counts(self, info: Info, filter: ComplaintFilter | None = None) -> ComplaintCounts:
        actor = info.context.staff()
        domain_filter = filter.to_domain() if filter else DomainFilter()
        return ComplaintCounts.from_view(await complaint_reads(info.context).counts(actor, domain_filter))

    @strawberry.field(description="Verified, non-confidential complaints, without reporter data.")
    async def public_complaints(
        self,
        info: Info,
        filter: PublicComplaintFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> PublicComplaintConnection:
        domain_filter = filter.to_domain() if filter else PublicFilter()
        reads = complaint_reads(info.context)
        page = await reads.public_feed(domain_filter, first=first, after=after)
        return PublicComplaintConnection.from_page(page, Counter(lambda: reads.public_count(domain_filter)))

    @strawberry.field(
        description="One complaint of the public feed by its tracking id; null when there is none (unknown, "
        "not yet verified, archived, transferred away or confidential)."
    )
    async def public_complaint(self, info: Info, tracking_id: str) -> PublicComplaint | None:
        view = await complaint_reads(info.context).public_complaint(tracking_id)
        return PublicComplaint.from_view(view) if view else None

    @strawberry.field(
        description="The reporter follows a complaint with its tracking id and access code, on any host "
        "that ever held it or on the national host: it is found wherever it was transferred."
    )
    async def track_complaint(self, info: Info, tracking_id: str, access_code: str) -> TrackedComplaint:
        view = await complaint_reads(info.context).track(tracking_id, access_code)
        return TrackedComplaint.from_view(view)
