"""GraphQL types of the transfer area (``Transfer`` and ``TransferKind`` are contract names)."""

from __future__ import annotations

import datetime as dt

import strawberry

from lapor.schema.common import PageInfo, UserError
from lapor.schema.complaints.types import Complaint
from lapor.tenants import enums
from lapor.tenants.transfers import ledger
from lapor.tenants.transfers.ledger import TransferPage, TransferRecord

TransferKind = strawberry.enum(
    enums.TransferKind,
    name="TransferKind",
    description="FORWARD: lateral (not ours). ESCALATE: up to the parent tenant. DELEGATE: down to a "
    "tenant under this one.",
)
TransferDirection = strawberry.enum(
    ledger.TransferDirection,
    name="TransferDirection",
    description="INCOMING: transferred to this tenant. OUTGOING: from it. ALL: both.",
)


@strawberry.type(description="One transfer of a complaint between tenants: the ledger row, its audit.")
class Transfer:
    tracking_id: str
    kind: TransferKind
    source_tenant: str = strawberry.field(description="Slug of the tenant it left.")
    target_tenant: str = strawberry.field(description="Slug of the tenant it went to.")
    reason: str | None
    at: dt.datetime
    actor: str = strawberry.field(description="Who transferred it: a staff name, a client, or the system.")

    @classmethod
    def from_record(cls, record: TransferRecord) -> Transfer:
        return cls(
            tracking_id=record.tracking_id,
            kind=record.kind,  # type: ignore[arg-type]
            source_tenant=record.source_tenant,
            target_tenant=record.target_tenant,
            reason=record.reason,
            at=record.at,
            actor=record.actor,
        )


@strawberry.type
class TransferEdge:
    cursor: str
    node: Transfer


@strawberry.type
class TransferConnection:
    edges: list[TransferEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Transfer]:
        return [edge.node for edge in self.edges]

    @classmethod
    def from_page(cls, page: TransferPage, *, has_previous_page: bool) -> TransferConnection:
        edges = [
            TransferEdge(cursor=cursor, node=Transfer.from_record(record))
            for record, cursor in zip(page.records, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
        )


@strawberry.type
class TransferComplaintPayload:
    complaint: Complaint | None = strawberry.field(
        description="The complaint as this tenant now holds it: TRANSFERRED."
    )
    transfer: Transfer | None
    errors: list[UserError]
