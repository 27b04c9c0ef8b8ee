"""Mutations of the transfer area: ``transferComplaint`` (scope ``complaints:transfer``)."""

from __future__ import annotations

import strawberry

from lapor.schema.common import attempt
from lapor.schema.complaints.types import Complaint
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.schema.transfers.inputs import TransferComplaintInput
from lapor.schema.transfers.types import Transfer, TransferComplaintPayload
from lapor.tenants.enums import TransferKind

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class TransferMutation:
    @strawberry.mutation(
        permission_classes=[requires("complaints:transfer")],
        description="Move an open complaint to another tenant in one transaction: it becomes "
        "TRANSFERRED here and continues there with its history, tracking id and access code.",
    )
    async def transfer_complaint(self, info: Info, input: TransferComplaintInput) -> TransferComplaintPayload:
        c = info.context
        c.loaders.clear()
        result, errors = await attempt(
            c.services.transfers.transfer(
                c.tenant,
                c.staff(),
                input.tracking_id.strip().upper(),
                input.target_tenant,
                TransferKind(input.kind),
                input.reason,
                expected_version=input.expected_version,
            )
        )
        if result is None:
            return TransferComplaintPayload(complaint=None, transfer=None, errors=errors)
        return TransferComplaintPayload(
            complaint=Complaint.from_record(result.source),
            transfer=Transfer.from_record(result.transfer),
            errors=[],
        )
