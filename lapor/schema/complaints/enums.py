"""GraphQL enums of the complaints area (names are contract: DESIGN.md sections 3 and 7)."""

from __future__ import annotations

import strawberry

from lapor.tenants import enums
from lapor.tenants.complaints.queries import ComplaintOrder as ComplaintOrderEnum

ComplaintKind = strawberry.enum(enums.ComplaintKind, name="ComplaintKind")
Channel = strawberry.enum(enums.Channel, name="Channel")
ComplaintStatus = strawberry.enum(enums.ComplaintStatus, name="ComplaintStatus")
ResponseOutcome = strawberry.enum(enums.ResponseOutcome, name="ResponseOutcome")
ClosedHow = strawberry.enum(enums.ClosedHow, name="ClosedHow")
Priority = strawberry.enum(enums.Priority, name="Priority")
DeadlineKind = strawberry.enum(enums.DeadlineKind, name="DeadlineKind")
ActorKind = strawberry.enum(enums.ActorKind, name="ActorKind")
ComplaintOrder = strawberry.enum(ComplaintOrderEnum, name="ComplaintOrder")
