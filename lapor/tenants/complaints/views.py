"""Audience views of a complaint: what the staff, the public and the reporter may each see.

A view is built from a record by the read path (``reads.py``) and is the only thing an adapter
(GraphQL today, HTML pages next) renders. What an audience must not see is not in its view at
all, so no adapter can show it by mistake:

* ``StaffComplaintView``: everything staff work with, except ``external_ref`` (only for
  ``tenant:admin``) and the reporter's key (never for an anonymous complaint; the identity
  itself needs ``reporters:read`` and is read, audited, through ``ComplaintReads.reporters``);
* ``PublicComplaintView``: a verified, non-confidential complaint, with no reporter, no
  location, no internal workflow fields;
* ``TrackingView``: what the reporter sees with the tracking id and access code: the status,
  the deadline, the history with units named and staff not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Generic, TypeVar

from lapor.tenants.actors import Actor
from lapor.tenants.complaints.records import ComplaintRecord, EventRecord
from lapor.tenants.enums import (
    ActorKind,
    Channel,
    ClosedHow,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    Priority,
    ResponseOutcome,
)

V = TypeVar("V")

ADMIN_SCOPE = "tenant:admin"
"""Sees ``external_ref``, the submitting client's own reference (issue 9, item 1)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class StaffEventView:
    """One step of the history as staff see it: a reporter's steps carry no name."""

    at: dt.datetime
    actor_kind: ActorKind
    actor_name: str | None
    action: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None
    unit_id: int | None

    @classmethod
    def of(cls, event: EventRecord) -> StaffEventView:
        return cls(
            at=event.at,
            actor_kind=ActorKind(event.actor_kind),
            actor_name=event.actor_name if event.actor_kind != ActorKind.REPORTER.value else None,
            action=event.action,
            from_status=ComplaintStatus(event.from_status) if event.from_status else None,
            to_status=ComplaintStatus(event.to_status),
            note=event.note,
            unit_id=event.unit_id,
        )


@dataclass(frozen=True, slots=True)
class AttachmentView:
    file_name: str
    content_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ReporterView:
    """Who reported: only ever built by ``ComplaintReads.reporters``, which audits each one."""

    name: str | None
    contact: str | None


@dataclass(frozen=True, slots=True)
class StaffComplaintView:
    id: int
    """Internal row id: the key of the nested batch reads (timeline, attachments); never shown."""
    tracking_id: str
    kind: ComplaintKind
    channel: Channel
    status: ComplaintStatus
    title: str
    body: str
    priority: Priority
    region_code: str | None
    location: str | None
    incident_date: dt.date | None
    anonymous: bool
    confidential: bool
    version: int
    deadline_kind: DeadlineKind | None
    deadline_at: dt.datetime | None
    is_late: bool
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
    unit_id: int | None
    category_id: int | None
    proposed_rule_id: int | None
    external_ref: str | None
    """The client's own reference; ``None`` unless the viewer holds ``tenant:admin``."""
    reporter_key: int | None
    """The reporter row to reveal (with ``reporters:read``); ``None`` for an anonymous complaint."""

    @classmethod
    def of(
        cls, record: ComplaintRecord, actor: Actor | None, now: dt.datetime | None = None
    ) -> StaffComplaintView:
        """The staff view of ``record`` for ``actor`` (whose right to read it is checked by the
        caller: the read path, or the write that produced the record)."""
        r = record
        admin = actor is not None and ADMIN_SCOPE in actor.scopes
        return cls(
            id=r.id, tracking_id=r.tracking_id, kind=r.kind, channel=r.channel, status=r.status,
            title=r.title, body=r.body, priority=r.priority, region_code=r.region_code,
            location=r.location, incident_date=r.incident_date, anonymous=r.anonymous,
            confidential=r.confidential, version=r.version, deadline_kind=r.deadline_kind,
            deadline_at=r.deadline_at, is_late=r.is_late(now or _now()), submitted_at=r.submitted_at,
            verified_at=r.verified_at, assigned_at=r.assigned_at, first_response_at=r.first_response_at,
            responded_at=r.responded_at, closed_at=r.closed_at, outcome=r.outcome, closed_how=r.closed_how,
            rating=r.rating, rating_comment=r.rating_comment, reopen_count=r.reopen_count,
            support_count=r.support_count, archive_reason=r.archive_reason, origin_tenant=r.origin_tenant,
            unit_id=r.unit_id, category_id=r.category_id, proposed_rule_id=r.proposed_rule_id,
            external_ref=r.external_ref if admin else None,
            reporter_key=None if r.anonymous else r.reporter_id,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PublicComplaintView:
    """A verified, non-confidential complaint as the public sees it: no reporter data."""

    tracking_id: str
    kind: ComplaintKind
    status: ComplaintStatus
    title: str
    body: str
    region_code: str | None
    submitted_at: dt.datetime
    outcome: ResponseOutcome | None
    support_count: int
    unit_id: int | None
    category_id: int | None

    @classmethod
    def of(cls, record: ComplaintRecord) -> PublicComplaintView:
        r = record
        return cls(
            tracking_id=r.tracking_id, kind=r.kind, status=r.status, title=r.title, body=r.body,
            region_code=r.region_code, submitted_at=r.submitted_at, outcome=r.outcome,
            support_count=r.support_count, unit_id=r.unit_id, category_id=r.category_id,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrackedEventView:
    """A step of the history as the reporter sees it: units named, staff not."""

    at: dt.datetime
    action: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None
    unit_name: str | None

    @classmethod
    def of(cls, event: EventRecord, unit_names: dict[int, str]) -> TrackedEventView:
        return cls(
            at=event.at,
            action=event.action,
            from_status=ComplaintStatus(event.from_status) if event.from_status else None,
            to_status=ComplaintStatus(event.to_status),
            note=event.note,
            unit_name=unit_names.get(event.unit_id) if event.unit_id is not None else None,
        )


@dataclass(frozen=True, slots=True)
class TrackingView:
    """What the reporter sees with the tracking id and access code, wherever the complaint is."""

    id: int
    """Internal row id in the host's tenant (read the timeline there when ``timeline`` is None)."""
    tracking_id: str
    kind: ComplaintKind
    status: ComplaintStatus
    title: str
    submitted_at: dt.datetime
    incident_date: dt.date | None
    deadline_kind: DeadlineKind | None
    deadline_at: dt.datetime | None
    is_late: bool
    outcome: ResponseOutcome | None
    closed_how: ClosedHow | None
    rating: int | None
    holder: str | None
    """Slug of the tenant holding it now; ``None`` when that is the host's tenant."""
    timeline: tuple[TrackedEventView, ...] | None = None
    """Read in the holder's transaction when it moved away; ``None``: read it in the host's
    (``ComplaintReads.tracking_timeline``), only when asked for."""

    @classmethod
    def of(
        cls,
        record: ComplaintRecord,
        *,
        holder: str | None = None,
        timeline: tuple[TrackedEventView, ...] | None = None,
    ) -> TrackingView:
        r = record
        return cls(
            id=r.id, tracking_id=r.tracking_id, kind=r.kind, status=r.status, title=r.title,
            submitted_at=r.submitted_at, incident_date=r.incident_date, deadline_kind=r.deadline_kind,
            deadline_at=r.deadline_at, is_late=r.is_late(_now()), outcome=r.outcome,
            closed_how=r.closed_how, rating=r.rating, holder=holder, timeline=timeline,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ViewPage(Generic[V]):
    """One keyset page of views, its cursors, and (when asked) the total it is a page of."""

    items: tuple[V, ...]
    cursors: tuple[str, ...]
    has_next_page: bool
    has_previous_page: bool
    total: TotalCount | None = None


@dataclass(frozen=True, slots=True)
class TotalCount:
    """How many match, counted in SQL up to ``COUNT_CAP``: past it, ``count`` is the cap and
    ``capped`` says "at least this many" (an exact count of a huge result is a full scan)."""

    count: int
    capped: bool


@dataclass(frozen=True, slots=True)
class StatusCount:
    status: ComplaintStatus
    count: int
    capped: bool


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """Counts per status for a staff queue (the actor's unit only, for a unit officer)."""

    by_status: tuple[StatusCount, ...]

    @property
    def total(self) -> int:
        return sum(s.count for s in self.by_status)

    @property
    def capped(self) -> bool:
        return any(s.capped for s in self.by_status)
