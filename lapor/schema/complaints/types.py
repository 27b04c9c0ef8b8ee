"""GraphQL types of complaints: the staff view, the public view, and the reporter's tracking view.

Three types on purpose: what a type does not have, no query can leak. ``PublicComplaint`` and
``TrackedComplaint`` carry no reporter field at all; ``Complaint.reporter`` needs
``reporters:read``, is audited, and is always null for an anonymous complaint.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.schema.reference.types import Category, Unit
from lapor.tenants.complaints.queries import Page
from lapor.tenants.complaints.records import ComplaintRecord, EventRecord

Info = strawberry.Info[LaporContext, None]

ADMIN_SCOPE = "tenant:admin"
"""Reads ``Complaint.externalRef`` (issue 9, item 1)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
    def from_record(cls, event: EventRecord) -> TimelineEvent:
        return cls(
            at=event.at,
            actor_kind=event.actor_kind,  # type: ignore[arg-type]
            actor_name=event.actor_name if event.actor_kind != "REPORTER" else None,
            action=event.action,
            from_status=event.from_status,  # type: ignore[arg-type]
            to_status=event.to_status,  # type: ignore[arg-type]
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
    record: strawberry.Private[ComplaintRecord]

    @strawberry.field(description="Past its deadline while the agency owes the next step.")
    def is_late(self) -> bool:
        return self.record.is_late(_now())

    @strawberry.field(
        description="The submitting client's own reference (a gateway's message id). Only with the scope "
        "tenant:admin; null for everyone else."
    )
    def external_ref(self, info: Info) -> str | None:
        actor = info.context.actor
        if actor is None or ADMIN_SCOPE not in actor.scopes:
            return None
        return self.record.external_ref

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await _unit(info, self.record.unit_id)

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.record.category_id)

    @strawberry.field(description="The routing rule proposed for it at submission or verification.")
    async def proposed_rule_name(self, info: Info) -> str | None:
        if self.record.proposed_rule_id is None:
            return None
        row = await dataloaders.rules(info.context).load(self.record.proposed_rule_id)
        return row.name if row else None

    @strawberry.field
    async def timeline(self, info: Info) -> list[TimelineEvent]:
        events = await dataloaders.timelines(info.context).load(self.record.id)
        return [TimelineEvent.from_record(e) for e in events]

    @strawberry.field
    async def last_event(self, info: Info) -> TimelineEvent | None:
        event = await dataloaders.last_events(info.context).load(self.record.id)
        return TimelineEvent.from_record(event) if event else None

    @strawberry.field
    async def attachments(self, info: Info) -> list[Attachment]:
        rows = await dataloaders.attachments(info.context).load(self.record.id)
        return [
            Attachment(
                file_name=r.file_name, content_type=r.content_type, size_bytes=r.size_bytes, sha256=r.sha256
            )
            for r in rows
        ]

    @strawberry.field(
        permission_classes=[requires("reporters:read")],
        description="The reporter's identity (scope reporters:read; audited; null when anonymous).",
    )
    async def reporter(self, info: Info) -> Reporter | None:
        if self.record.anonymous or self.record.reporter_id is None:
            return None
        identity = await dataloaders.reporters(info.context).load(self.record.reporter_id)
        return Reporter(name=identity.name, contact=identity.contact) if identity else None

    @classmethod
    def from_record(cls, record: ComplaintRecord) -> Complaint:
        copied: dict[str, Any] = {name: getattr(record, name) for name in _COMPLAINT_FIELDS}
        return cls(id=global_id("Complaint", record.tracking_id), record=record, **copied)


_COMPLAINT_FIELDS = (
    "tracking_id", "kind", "channel", "status", "title", "body", "priority", "region_code",
    "location", "anonymous", "confidential", "version", "deadline_kind", "deadline_at", "submitted_at",
    "verified_at", "assigned_at", "first_response_at", "responded_at", "closed_at", "outcome", "closed_how",
    "rating", "rating_comment", "reopen_count", "support_count", "archive_reason", "origin_tenant",
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
    record: strawberry.Private[ComplaintRecord]

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await _unit(info, self.record.unit_id)

    @strawberry.field
    async def category(self, info: Info) -> Category | None:
        return await _category(info, self.record.category_id)

    @classmethod
    def from_record(cls, record: ComplaintRecord) -> PublicComplaint:
        return cls(
            tracking_id=record.tracking_id, kind=record.kind, status=record.status, title=record.title,
            body=record.body, region_code=record.region_code, submitted_at=record.submitted_at,
            outcome=record.outcome, support_count=record.support_count, record=record,
        )  # fmt: skip


@strawberry.type(description="A step of the history as the reporter sees it: units named, staff not.")
class TrackedEvent:
    at: dt.datetime
    action: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None
    unit_id: strawberry.Private[int | None]
    known_unit_name: strawberry.Private[str | None] = None
    """Set when the event was read in another tenant (the complaint moved): no loader lookup."""

    @strawberry.field
    async def unit_name(self, info: Info) -> str | None:
        if self.unit_id is None:
            return self.known_unit_name
        unit = await _unit(info, self.unit_id)
        return unit.name if unit else None


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
    record: strawberry.Private[ComplaintRecord]
    holder: strawberry.Private[str | None] = None
    """The tenant holding it now when that is not the host's (it was transferred)."""
    held_timeline: strawberry.Private[list[TrackedEvent] | None] = None
    """The timeline, read in the holder's transaction, when the holder is not the host's tenant."""

    @strawberry.field(description="Slug of the tenant that holds the complaint now (it follows transfers).")
    def current_tenant(self, info: Info) -> str:
        return self.holder or info.context.tenant.slug

    @strawberry.field
    async def timeline(self, info: Info) -> list[TrackedEvent]:
        if self.held_timeline is not None:
            return self.held_timeline
        events = await dataloaders.timelines(info.context).load(self.record.id)
        return [
            TrackedEvent(at=e.at, action=e.action, from_status=e.from_status, to_status=e.to_status,  # type: ignore[arg-type]
                         note=e.note, unit_id=e.unit_id)
            for e in events
        ]  # fmt: skip

    @classmethod
    def from_record(cls, record: ComplaintRecord) -> TrackedComplaint:
        return cls(
            tracking_id=record.tracking_id, kind=record.kind, status=record.status, title=record.title,
            submitted_at=record.submitted_at, deadline_kind=record.deadline_kind,
            deadline_at=record.deadline_at, is_late=record.is_late(_now()), outcome=record.outcome,
            closed_how=record.closed_how,
            rating=record.rating, record=record,
        )  # fmt: skip


@strawberry.type
class ComplaintEdge:
    cursor: str
    node: Complaint


@strawberry.type
class ComplaintConnection:
    edges: list[ComplaintEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Complaint]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_page(cls, page: Page) -> ComplaintConnection:
        edges = [
            ComplaintEdge(cursor=c, node=Complaint.from_record(r))
            for r, c in zip(page.records, page.cursors, strict=True)
        ]
        return cls(edges=edges, page_info=_page_info(page))


@strawberry.type
class PublicComplaintEdge:
    cursor: str
    node: PublicComplaint


@strawberry.type
class PublicComplaintConnection:
    edges: list[PublicComplaintEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Page) -> PublicComplaintConnection:
        edges = [
            PublicComplaintEdge(cursor=c, node=PublicComplaint.from_record(r))
            for r, c in zip(page.records, page.cursors, strict=True)
        ]
        return cls(edges=edges, page_info=_page_info(page))


def _page_info(page: Page) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
        start_cursor=page.cursors[0] if page.cursors else None,
        end_cursor=page.cursors[-1] if page.cursors else None,
    )
