"""The event a subscriber receives: which complaint changed and how, never its content."""

from __future__ import annotations

import datetime as dt

import strawberry

from lapor.schema.complaints.enums import ComplaintStatus
from lapor.tenants import enums
from lapor.tenants.complaints.events import ComplaintChange


@strawberry.type(
    description="A complaint changed. No content or reporter data: query `complaint(trackingId)` for it."
)
class ComplaintEvent:
    tracking_id: str
    status: ComplaintStatus = strawberry.field(description="The status after the change.")
    action: str = strawberry.field(description="What happened: SUBMIT, VERIFY, ASSIGN, RESPOND, ...")
    version: int = strawberry.field(
        description="The complaint's version after the change (orders events; pass it as `expectedVersion`)."
    )
    at: dt.datetime

    @classmethod
    def from_change(cls, change: ComplaintChange) -> ComplaintEvent:
        """``ValueError`` for a status this process does not know (a newer publisher)."""
        return cls(
            tracking_id=change.tracking_id,
            status=enums.ComplaintStatus(change.status),  # type: ignore[arg-type]
            action=change.action,
            version=change.version,
            at=change.at,
        )
