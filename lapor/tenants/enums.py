"""The vocabularies of a complaint (DESIGN.md section 3; the names are public contract)."""

from __future__ import annotations

import enum


class ComplaintKind(enum.StrEnum):
    COMPLAINT = "COMPLAINT"
    ASPIRATION = "ASPIRATION"
    INFORMATION_REQUEST = "INFORMATION_REQUEST"


class Channel(enum.StrEnum):
    WEB = "WEB"
    MOBILE = "MOBILE"
    SMS = "SMS"
    WHATSAPP = "WHATSAPP"
    SOCIAL = "SOCIAL"
    EMAIL = "EMAIL"
    WALK_IN = "WALK_IN"
    TRANSFER = "TRANSFER"


class ComplaintStatus(enum.StrEnum):
    SUBMITTED = "SUBMITTED"
    NEEDS_INFO = "NEEDS_INFO"
    VERIFIED = "VERIFIED"
    IN_PROGRESS = "IN_PROGRESS"
    RESPONDED = "RESPONDED"
    CLOSED = "CLOSED"
    ARCHIVED = "ARCHIVED"
    TRANSFERRED = "TRANSFERRED"


class ResponseOutcome(enum.StrEnum):
    RESOLVED = "RESOLVED"
    PARTIALLY_RESOLVED = "PARTIALLY_RESOLVED"
    UNABLE = "UNABLE"


class ClosedHow(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    NO_REPLY = "NO_REPLY"


class Priority(enum.StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


class ActorKind(enum.StrEnum):
    REPORTER = "REPORTER"
    STAFF = "STAFF"
    SYSTEM = "SYSTEM"


class DeadlineKind(enum.StrEnum):
    """Which time limit a complaint's current deadline is (keys of the deadline policy)."""

    VERIFY = "VERIFY"
    FIRST_RESPONSE = "FIRST_RESPONSE"
    REPLY_WINDOW = "REPLY_WINDOW"
    COMPLETION = "COMPLETION"


class RoutingAction(enum.StrEnum):
    ASSIGN_UNIT = "ASSIGN_UNIT"
    SET_PRIORITY = "SET_PRIORITY"
    TRANSFER_TO_TENANT = "TRANSFER_TO_TENANT"


class TransferKind(enum.StrEnum):
    """How a complaint moves between tenants (DESIGN.md section 5), checked against the hierarchy."""

    FORWARD = "FORWARD"
    """Lateral: not ours, neither our parent's nor a descendant's."""
    ESCALATE = "ESCALATE"
    """Up to the parent tenant (late, or the reporter appeals)."""
    DELEGATE = "DELEGATE"
    """Down to a descendant (the national or a province intake sends it to the right pemda)."""


OPEN_STATUSES = frozenset(
    {
        ComplaintStatus.SUBMITTED,
        ComplaintStatus.NEEDS_INFO,
        ComplaintStatus.VERIFIED,
        ComplaintStatus.IN_PROGRESS,
        ComplaintStatus.RESPONDED,
    }
)


def sql_in(values: type[enum.StrEnum]) -> str:
    """``('A', 'B')`` for a CHECK constraint listing an enum's values."""
    return "(" + ", ".join(f"'{member.value}'" for member in values) + ")"
