"""GraphQL inputs of the transfer area."""

from __future__ import annotations

import strawberry

from lapor.schema.transfers.types import TransferKind


@strawberry.input
class TransferComplaintInput:
    tracking_id: str
    target_tenant: str = strawberry.field(description="Slug of the tenant to transfer to.")
    kind: TransferKind = strawberry.field(
        description="Must fit the hierarchy: ESCALATE to the parent, DELEGATE to a descendant, else FORWARD."
    )
    reason: str = strawberry.field(description="Why (bukan wewenang, escalation...); kept in the ledger.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version you saw: a stale one is refused with CONFLICT."
    )
