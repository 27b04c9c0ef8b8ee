"""Query fields of the complaints area: staff lists, the public feed, the reporter's tracking."""

from __future__ import annotations

import strawberry

from lapor.schema.audit import audit_complaint_reads
from lapor.schema.complaints.enums import ComplaintOrder
from lapor.schema.complaints.inputs import ComplaintFilter, PublicComplaintFilter
from lapor.schema.complaints.types import (
    Complaint,
    ComplaintConnection,
    PublicComplaintConnection,
    TrackedComplaint,
    TrackedEvent,
)
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.tenants.complaints import queries
from lapor.tenants.complaints.queries import ComplaintFilter as DomainFilter
from lapor.tenants.complaints.queries import ComplaintOrder as DomainOrder

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class ComplaintQuery:
    @strawberry.field(
        permission_classes=[requires("complaints:read")],
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
        page = await info.context.reader.run(
            lambda conn: queries.list_complaints(
                conn,
                domain_filter,
                order=DomainOrder(order_by),
                first=first,
                after=after,
                unit_scope=actor.unit_id,
            )
        )
        await audit_complaint_reads(info.context, page.records)
        return ComplaintConnection.from_page(page)

    @strawberry.field(permission_classes=[requires("complaints:read")])
    async def complaint(self, info: Info, tracking_id: str) -> Complaint | None:
        actor = info.context.staff()
        record = await info.context.reader.run(
            lambda conn: queries.complaint_by_tracking_id(conn, tracking_id.strip().upper())
        )
        if record is None or (actor.unit_id is not None and record.unit_id != actor.unit_id):
            return None
        await audit_complaint_reads(info.context, [record])
        return Complaint.from_record(record)

    @strawberry.field(description="Verified, non-confidential complaints, without reporter data.")
    async def public_complaints(
        self,
        info: Info,
        filter: PublicComplaintFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> PublicComplaintConnection:
        domain_filter = filter.to_domain() if filter else DomainFilter()
        page = await info.context.reader.run(
            lambda conn: queries.list_complaints(
                conn, domain_filter, first=first, after=after, public_only=True
            )
        )
        return PublicComplaintConnection.from_page(page)

    @strawberry.field(
        description="The reporter follows a complaint with its tracking id and access code, on any host "
        "that ever held it or on the national host: it is found wherever it was transferred."
    )
    async def track_complaint(self, info: Info, tracking_id: str, access_code: str) -> TrackedComplaint:
        context = info.context
        tracked = await context.services.transfers.track(
            context.tenant, tracking_id.strip().upper(), access_code
        )
        if tracked.holder.slug == context.tenant.slug:
            return TrackedComplaint.from_record(tracked.complaint)
        found = TrackedComplaint.from_record(tracked.complaint)
        found.holder = tracked.holder.slug
        found.held_timeline = [
            TrackedEvent(at=e.at, action=e.action, from_status=e.from_status, to_status=e.to_status,  # type: ignore[arg-type]
                         note=e.note, unit_id=None, known_unit_name=tracked.unit_names.get(e.unit_id or 0))
            for e in tracked.timeline or []
        ]  # fmt: skip
        return found
