"""The transition table (DESIGN.md section 3): which action moves which status, done by whom.

Pure data: the service consults it before every write, and the tests walk every pair of
(action, status) through it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lapor.platform.errors import DomainError
from lapor.tenants.enums import ActorKind, ComplaintStatus

S = ComplaintStatus


class Action(enum.StrEnum):
    SUBMIT = "SUBMIT"
    COMPLETE = "COMPLETE"
    VERIFY = "VERIFY"
    ARCHIVE = "ARCHIVE"
    REQUEST_INFO = "REQUEST_INFO"
    ASSIGN = "ASSIGN"
    RESPOND = "RESPOND"
    REPLY = "REPLY"
    ACCEPT = "ACCEPT"
    DISPUTE = "DISPUTE"
    RATE = "RATE"
    AUTO_CLOSE = "AUTO_CLOSE"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[ComplaintStatus]
    target: ComplaintStatus | None
    """``None``: the status stays what it was (reassign, reply, rate)."""
    actors: frozenset[ActorKind]
    scope: str | None = None
    """The staff scope the action needs (reporter actions need the access code instead)."""


_STAFF = frozenset({ActorKind.STAFF, ActorKind.SYSTEM})
_REPORTER = frozenset({ActorKind.REPORTER})

TRANSITIONS: dict[Action, Transition] = {
    Action.COMPLETE: Transition(frozenset({S.NEEDS_INFO}), S.SUBMITTED, _REPORTER),
    Action.VERIFY: Transition(frozenset({S.SUBMITTED}), S.VERIFIED, _STAFF, "complaints:triage"),
    Action.ARCHIVE: Transition(frozenset({S.SUBMITTED}), S.ARCHIVED, _STAFF, "complaints:triage"),
    Action.REQUEST_INFO: Transition(frozenset({S.SUBMITTED}), S.NEEDS_INFO, _STAFF, "complaints:triage"),
    Action.ASSIGN: Transition(
        frozenset({S.VERIFIED, S.IN_PROGRESS}), S.IN_PROGRESS, _STAFF, "complaints:triage"
    ),
    Action.RESPOND: Transition(
        frozenset({S.IN_PROGRESS, S.RESPONDED}), S.RESPONDED, _STAFF, "complaints:respond"
    ),
    Action.REPLY: Transition(frozenset({S.RESPONDED}), None, _REPORTER),
    Action.ACCEPT: Transition(frozenset({S.RESPONDED}), S.CLOSED, _REPORTER),
    Action.DISPUTE: Transition(frozenset({S.RESPONDED}), S.IN_PROGRESS, _REPORTER),
    Action.RATE: Transition(frozenset({S.CLOSED}), None, _REPORTER),
    Action.AUTO_CLOSE: Transition(frozenset({S.RESPONDED}), S.CLOSED, frozenset({ActorKind.SYSTEM})),
}


def check_transition(action: Action, status: ComplaintStatus, actor_kind: ActorKind) -> ComplaintStatus:
    """The status after ``action``, or ``INVALID_TRANSITION`` / ``FORBIDDEN``."""
    rule = TRANSITIONS[action]
    if actor_kind not in rule.actors:
        raise DomainError("FORBIDDEN", f"{action.value.lower()} is not done by a {actor_kind.value.lower()}")
    if status not in rule.sources:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        raise DomainError(
            "INVALID_TRANSITION",
            f"cannot {action.value.lower().replace('_', ' ')} a complaint that is {status.value} "
            f"(only when {allowed})",
            "status",
        )
    return rule.target or status
