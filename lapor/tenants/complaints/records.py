"""Complaint rows as immutable Python objects (what services return and the API renders)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from lapor.tenants.enums import (
    OPEN_STATUSES,
    Channel,
    ClosedHow,
    ComplaintKind,
    ComplaintStatus,
    DeadlineKind,
    Priority,
    ResponseOutcome,
)


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    id: int
    tracking_id: str
    kind: ComplaintKind
    channel: Channel
    external_ref: str | None
    submitted_by_client: str | None
    """The OAuth client that filed it (channel gateways, apps); ``None`` for the public web form."""
    status: ComplaintStatus
    title: str
    body: str
    category_id: int | None
    unit_id: int | None
    priority: Priority
    region_code: str | None
    location: str | None
    anonymous: bool
    confidential: bool
    reporter_id: int | None
    proposed_rule_id: int | None
    version: int
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
    incident_date: dt.date | None
    """When the reported event happened, as the reporter says (t0007); not in the future."""
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: Any) -> ComplaintRecord:
        data = dict(row._mapping)
        data = {f.name: data[f.name] for f in fields(cls)}
        data["kind"] = ComplaintKind(data["kind"])
        data["channel"] = Channel(data["channel"])
        data["status"] = ComplaintStatus(data["status"])
        data["priority"] = Priority(data["priority"])
        for name, enum_type in (
            ("deadline_kind", DeadlineKind),
            ("outcome", ResponseOutcome),
            ("closed_how", ClosedHow),
        ):
            if data[name] is not None:
                data[name] = enum_type(data[name])
        return cls(**data)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_late(self, now: dt.datetime) -> bool:
        """Past its deadline while the agency owes the next step (not while the reporter does)."""
        if self.deadline_at is None or not self.is_open:
            return False
        if self.status in (ComplaintStatus.RESPONDED, ComplaintStatus.NEEDS_INFO):
            return False
        return now > self.deadline_at


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    complaint_id: int
    at: dt.datetime
    actor_kind: str
    actor_name: str | None
    unit_id: int | None
    action: str
    from_status: str | None
    to_status: str
    note: str | None

    @classmethod
    def from_row(cls, row: Any) -> EventRecord:
        data = dict(row._mapping)
        return cls(**{f.name: data[f.name] for f in fields(cls)})
