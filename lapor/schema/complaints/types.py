"""GraphQL types of complaints: translations of the domain's audience views.

Three types on purpose, one per view (``lapor.tenants.complaints.views``): what a view does not
have, no query can show. ``PublicComplaint`` and ``TrackedComplaint`` carry no reporter field
at all; ``Complaint.reporter`` is read through the domain (scope ``reporters:read``, audited,
never for an anonymous complaint) and ``Complaint.externalRef`` is what the staff view says.
Nothing here decides who may see what.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from lapor.schema import dataloaders
from lapor.schema.common import Node, PageInfo, global_id
from lapor.schema.complaints.enums import (
    ActorKind,
    Channel,
    ClosedHow,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    Priority,
    ResponseOutcome,
)
from lapor.schema.complaints.permissions import ReadsReporters
from lapor.schema.context import LaporContext
from lapor.schema.reference.types import Category, Unit
from lapor.tenants.complaints import views
from lapor.tenants.complaints.reads import COUNT_CAP
from lapor.tenants.complaints.records import ComplaintRecord

Info = strawberry.Info[LaporContext, None]
T = TypeVar("T")


async def _unit(info: Info, unit_id: int | None) -> Unit | None:
    if unit_id is None:
        return None
    row = await dataloaders.units(info.context).load(unit_id)
    return Unit.from_row(row) if row else None


async def _category(info: Info, category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    row = await dataloaders.categories(info.context).load(category_id)
    return Category.from_row(row) if row else None


@strawberry.type(description="One step of a complaint's history (append-only).")
class TimelineEvent:
    at: dt.datetime
    actor_kind: ActorKind
    actor_name: str | None = strawberry.field(description="Staff name; null for reporters.")
    action: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None
    unit_id: strawberry.Private[int | None]

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await _unit(info, self.unit_id)

    @classmethod
    def from_view(cls, event: views.StaffEventView) -> TimelineEvent:
        return cls(
            at=event.at,
            actor_kind=event.actor_kind,
            actor_name=event.actor_name,
            action=event.action,
            from_status=event.from_status,
            to_status=event.to_status,
            note=event.note,
            unit_id=event.unit_id,
        )


@strawberry.type(description="Attachment metadata (the file itself lives in object storage).")
class Attachment:
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str


@strawberry.type(description="Who reported (never for anonymous complaints; every read is audited).")
class Reporter:
    name: str | None
    contact: str | None


@strawberry.type(description="A complaint, aspiration or information request, as the agency's staff see it.")
class Complaint(Node):
    tracking_id: str
    kind: ComplaintKind
    channel: Channel
    status: ComplaintStatus
    title: str
    body: str
    priority: Priority
    region_code: str | None
    location: str | None
    anonymous: bool
    confidential: bool
    version: int = strawberry.field(description="Pass as expectedVersion to refuse stale writes.")
    deadline_kind: DeadlineKind | None
    deadline_at: dt.datetime | None
    submitted_at: dt.datetime
    verified_at: dt.datetime | None
    assigned_at: dt.datetime | None
    first_response_at: dt.datetime | None
    responded_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: ResponseOutcome | None
    closed_how: ClosedHow | None
    rating: int | None
    rating_comment: str | None
    reopen_count: int
    support_count: int
    archive_reason: str | None
    origin_tenant: str | None
    incident_date: dt.date | None = strawberry.field(
        description="The day the reported event happened, as the reporter gave it (optional)."
    )
    view: strawberry.Private[views.StaffComplaintView]
    written: strawberry.Private[ComplaintRecord | None] = None
    """A mutation's result: its audience is the caller of the request, known at resolve time."""

    def _view(self, info: Info) -> views.StaffComplaintView:
        if self.written is None:
            return self.view
        return views.StaffComplaintView.of(self.written, info.context.actor)

    @strawberry.field(description="Past its deadline while the agency owes the next step.")
    def is_late(self) -> bool:
        return self.view.is_late

    @strawberry.field(
        description="The submitting client's own reference (a gateway's message id). Only with the scope "
        "tenant:admin; null for everyone else."
    )
    def external_ref(self, info: Info) -> str | None:
        return self._view(info).external_ref

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await _unit(info, self.view.unit_id)

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.view.category_id)

    @strawberry.field(description="The routing rule proposed for it at submission or verification.")
    async def proposed_rule_name(self, info: Info) -> str | None:
        if self.view.proposed_rule_id is None:
            return None
        row = await dataloaders.rules(info.context).load(self.view.proposed_rule_id)
        return row.name if row else None

    @strawberry.field
    async def timeline(self, info: Info) -> list[TimelineEvent]:
        events = await dataloaders.timelines(info.context).load(self.view.id)
        return [TimelineEvent.from_view(e) for e in events]

    @strawberry.field
    async def last_event(self, info: Info) -> TimelineEvent | None:
        event = await dataloaders.last_events(info.context).load(self.view.id)
        return TimelineEvent.from_view(event) if event else None

    @strawberry.field
    async def attachments(self, info: Info) -> list[Attachment]:
        found = await dataloaders.attachments(info.context).load(self.view.id)
        return [Attachment(file_name=a.file_name, content_type=a.content_type, size_bytes=a.size_bytes,
                           sha256=a.sha256) for a in found]  # fmt: skip

    @strawberry.field(
        permission_classes=[ReadsReporters],
        description="The reporter's identity (scope reporters:read; audited; null when anonymous).",
    )
    async def reporter(self, info: Info) -> Reporter | None:
        view = self._view(info)
        if view.reporter_key is None:
            return None
        identity = await dataloaders.reporters(info.context).load(view)
        return Reporter(name=identity.name, contact=identity.contact) if identity else None

    @classmethod
    def from_view(cls, view: views.StaffComplaintView) -> Complaint:
        copied: dict[str, Any] = {name: getattr(view, name) for name in _COMPLAINT_FIELDS}
        return cls(id=global_id("Complaint", view.tracking_id), view=view, **copied)

    @classmethod
    def from_record(cls, record: ComplaintRecord) -> Complaint:
        """A write's result (mutations, transfers): the staff view for the request's caller."""
        found = cls.from_view(views.StaffComplaintView.of(record, None))
        found.written = record
        return found


_COMPLAINT_FIELDS = (
    "tracking_id", "kind", "channel", "status", "title", "body", "priority", "region_code",
    "location", "anonymous", "confidential", "version", "deadline_kind", "deadline_at", "submitted_at",
    "verified_at", "assigned_at", "first_response_at", "responded_at", "closed_at", "outcome", "closed_how",
    "rating", "rating_comment", "reopen_count", "support_count", "archive_reason", "origin_tenant",
    "incident_date",
)  # fmt: skip


@strawberry.type(
    description="A verified, non-confidential complaint as the public sees it: no reporter data."
)
class PublicComplaint:
    tracking_id: str
    kind: ComplaintKind
    status: ComplaintStatus
    title: str
    body: str
    region_code: str | None
    submitted_at: dt.datetime
    outcome: ResponseOutcome | None
    support_count: int
    view: strawberry.Private[views.PublicComplaintView]

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await _unit(info, self.view.unit_id)

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.view.category_id)

    @classmethod
    def from_view(cls, view: views.PublicComplaintView) -> PublicComplaint:
        v = view
        return cls(
            tracking_id=v.tracking_id, kind=v.kind, status=v.status, title=v.title, body=v.body,
            region_code=v.region_code, submitted_at=v.submitted_at, outcome=v.outcome,
            support_count=v.support_count, view=v,
        )  # fmt: skip


@strawberry.type(description="A step of the history as the reporter sees it: units named, staff not.")
class TrackedEvent:
    at: dt.datetime
    action: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None
    unit_name: str | None

    @classmethod
    def from_view(cls, event: views.TrackedEventView) -> TrackedEvent:
        return cls(at=event.at, action=event.action, from_status=event.from_status,
                   to_status=event.to_status, note=event.note, unit_name=event.unit_name)  # fmt: skip


@strawberry.type(description="What the reporter sees with the tracking id and access code.")
class TrackedComplaint:
    tracking_id: str
    kind: ComplaintKind
    status: ComplaintStatus
    title: str
    submitted_at: dt.datetime
    deadline_kind: DeadlineKind | None
    deadline_at: dt.datetime | None
    is_late: bool
    outcome: ResponseOutcome | None
    closed_how: ClosedHow | None
    rating: int | None
    incident_date: dt.date | None = strawberry.field(
        description="The day the reported event happened, as the reporter gave it (optional)."
    )
    view: strawberry.Private[views.TrackingView]

    @strawberry.field(description="Slug of the tenant that holds the complaint now (it follows transfers).")
    def current_tenant(self, info: Info) -> str:
        return self.view.holder or info.context.tenant.slug

    @strawberry.field
    async def timeline(self, info: Info) -> list[TrackedEvent]:
        events = await dataloaders.complaint_reads(info.context).tracking_timeline(self.view)
        return [TrackedEvent.from_view(e) for e in events]

    @classmethod
    def from_view(cls, view: views.TrackingView) -> TrackedComplaint:
        v = view
        return cls(
            tracking_id=v.tracking_id, kind=v.kind, status=v.status, title=v.title,
            submitted_at=v.submitted_at, deadline_kind=v.deadline_kind, deadline_at=v.deadline_at,
            is_late=v.is_late, outcome=v.outcome, closed_how=v.closed_how, rating=v.rating,
            incident_date=v.incident_date, view=v,
        )  # fmt: skip

    @classmethod
    def from_record(cls, record: ComplaintRecord) -> TrackedComplaint:
        """A reporter's write result (submission, reply, rating): the host holds it."""
        return cls.from_view(views.TrackingView.of(record))


class Once(Generic[T]):
    """A read done once however many fields ask for it: ``totalCount`` and ``totalCountCapped``
    of one connection resolve concurrently, and share one count."""

    def __init__(self, make: Callable[[], Awaitable[T]]) -> None:
        self._make = make
        self._task: asyncio.Future[T] | None = None

    async def get(self) -> T:
        if self._task is None:
            self._task = asyncio.ensure_future(self._make())
        return await asyncio.shield(self._task)


Counter = Once[views.TotalCount]

_TOTAL = (
    f"How many match the filter in all pages, counted up to {COUNT_CAP:,}; past that it is {COUNT_CAP:,} "
    "and totalCountCapped is true."
)
_CAPPED = f"True when more than {COUNT_CAP:,} match: totalCount is then a lower bound."


@strawberry.type
class ComplaintEdge:
    cursor: str
    node: Complaint


@strawberry.type
class ComplaintConnection:
    edges: list[ComplaintEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field
    def nodes(self) -> list[Complaint]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description=_TOTAL + " A unit officer's count is of its unit's complaints.")
    async def total_count(self) -> int:
        return (await self.counter.get()).count

    @strawberry.field(description=_CAPPED)
    async def total_count_capped(self) -> bool:
        return (await self.counter.get()).capped

    @classmethod
    def from_page(
        cls, page: views.ViewPage[views.StaffComplaintView], counter: Counter
    ) -> ComplaintConnection:
        edges = [
            ComplaintEdge(cursor=c, node=Complaint.from_view(v))
            for v, c in zip(page.items, page.cursors, strict=True)
        ]
        return cls(edges=edges, page_info=_page_info(page), counter=counter)


@strawberry.type
class PublicComplaintEdge:
    cursor: str
    node: PublicComplaint


@strawberry.type
class PublicComplaintConnection:
    edges: list[PublicComplaintEdge]
    page_info: PageInfo
    counter: strawberry.Private[Counter]

    @strawberry.field(description=_TOTAL)
    async def total_count(self) -> int:
        return (await self.counter.get()).count

    @strawberry.field(description=_CAPPED)
    async def total_count_capped(self) -> bool:
        return (await self.counter.get()).capped

    @classmethod
    def from_page(
        cls, page: views.ViewPage[views.PublicComplaintView], counter: Counter
    ) -> PublicComplaintConnection:
        edges = [
            PublicComplaintEdge(cursor=c, node=PublicComplaint.from_view(v))
            for v, c in zip(page.items, page.cursors, strict=True)
        ]
        return cls(edges=edges, page_info=_page_info(page), counter=counter)


def _page_info(page: views.ViewPage[Any]) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )


@strawberry.type(description="How many complaints are in one status.")
class ComplaintStatusCount:
    status: ComplaintStatus
    count: int = strawberry.field(description=f"Counted up to {COUNT_CAP:,} (see capped).")
    capped: bool = strawberry.field(description=f"True when more than {COUNT_CAP:,} are in this status.")


@strawberry.type(
    description="Counts per status for a staff queue: the caller's unit only, for a unit officer."
)
class ComplaintCounts:
    by_status: list[ComplaintStatusCount]
    total: int = strawberry.field(description="The sum of the counts.")
    capped: bool = strawberry.field(description="True when any count is capped: total is a lower bound.")

    @classmethod
    def from_view(cls, counts: views.StatusCounts) -> ComplaintCounts:
        return cls(
            by_status=[ComplaintStatusCount(status=s.status, count=s.count, capped=s.capped)
                       for s in counts.by_status],
            total=counts.total,
            capped=counts.capped,
        )  # fmt: skip
