"""Query fields of the transfer area: the host tenant's ledger rows, scope ``complaints:read``.

Read inside the request's tenant transaction (``context.reader``) through the ledger's SECURITY
DEFINER function, which takes the tenant from the transaction's role: a host sees only the
transfers it sent or received, whatever the arguments say. A cross-tenant reader's page (the
Ombudsman's) is audited in that same transaction, one row per read.
"""

from __future__ import annotations

import strawberry

from lapor.platform.errors import DomainError
from lapor.schema.audit import audit_transfer_reads
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.schema.transfers.types import TransferConnection, TransferDirection
from lapor.tenants.transfers import ledger

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class TransferQuery:
    @strawberry.field(
        permission_classes=[requires("complaints:read")],
        description="Transfers this tenant sent (OUTGOING) or received (INCOMING), newest first. "
        "At most 100 per page.",
    )
    async def transfers(
        self,
        info: Info,
        direction: TransferDirection = ledger.TransferDirection.ALL,
        first: int | None = 20,
        after: str | None = None,
    ) -> TransferConnection:
        if info.context.staff().unit_id is not None:
            # The ledger lists every transferred tracking id; a unit officer sees its unit's only.
            raise DomainError("FORBIDDEN", "a unit officer's token cannot list the tenant's transfers")
        page = await info.context.reader.run(
            lambda conn: ledger.list_transfers(
                conn, ledger.TransferDirection(direction), first=first, after=after
            )
        )
        await audit_transfer_reads(info.context, ledger.TransferDirection(direction).value, page.records)
        return TransferConnection.from_page(page, has_previous_page=after is not None)
