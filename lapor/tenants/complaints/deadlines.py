"""Which time limit runs in each status, and from when (DESIGN.md section 3).

* SUBMITTED, VERIFIED: verification and disposition, counted from submission (or from the
  reporter's completion after NEEDS_INFO);
* NEEDS_INFO: no clock: the reporter owes the next step;
* IN_PROGRESS: the first follow-up, counted from disposition; once answered (a dispute reopens
  it), the completion limit counted from submission;
* RESPONDED: the reporter's reply window, counted from the response (then it closes NO_REPLY);
* CLOSED, ARCHIVED, TRANSFERRED: none.
"""

from __future__ import annotations

import datetime as dt

from lapor.platform.calendar import DeadlinePolicy, WorkingCalendar
from lapor.tenants.enums import ComplaintStatus, DeadlineKind

S = ComplaintStatus


def next_deadline(
    *,
    status: ComplaintStatus,
    previous_status: ComplaintStatus | None,
    previous: tuple[DeadlineKind | None, dt.datetime | None],
    submitted_at: dt.datetime,
    first_response_at: dt.datetime | None,
    now: dt.datetime,
    calendar: WorkingCalendar,
    policy: DeadlinePolicy,
    time_zone: str,
) -> tuple[DeadlineKind | None, dt.datetime | None]:
    def limit(kind: DeadlineKind, start: dt.datetime) -> tuple[DeadlineKind, dt.datetime]:
        return kind, policy.deadline(kind, start, calendar, time_zone)

    if status is S.SUBMITTED:
        return limit(DeadlineKind.VERIFY, now if previous_status is S.NEEDS_INFO else submitted_at)
    if status is S.VERIFIED:
        return previous if previous[0] is DeadlineKind.VERIFY else limit(DeadlineKind.VERIFY, now)
    if status is S.IN_PROGRESS:
        if first_response_at is None:
            return limit(DeadlineKind.FIRST_RESPONSE, now)
        return limit(DeadlineKind.COMPLETION, submitted_at)
    if status is S.RESPONDED:
        return limit(DeadlineKind.REPLY_WINDOW, now)
    return None, None
