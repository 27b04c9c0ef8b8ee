"""Query fields of the tenants area."""

from __future__ import annotations

import strawberry

from lapor.schema.context import LaporContext
from lapor.schema.tenants.types import Tenant


@strawberry.type
class TenantQuery:
    @strawberry.field(description="The tenant this host serves.")
    def tenant(self, info: strawberry.Info[LaporContext, None]) -> Tenant:
        return Tenant.from_record(info.context.tenant)
