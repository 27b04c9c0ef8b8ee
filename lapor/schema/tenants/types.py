"""GraphQL types of the tenants area (``Tenant`` is a contract name)."""

from __future__ import annotations

import strawberry

from lapor.schema.context import LaporContext
from lapor.tenants.records import Tenant as TenantRecord
from lapor.tenants.records import TenantKind as TenantKindEnum
from lapor.tenants.records import TenantStatus as TenantStatusEnum

TenantKind = strawberry.enum(TenantKindEnum, name="TenantKind")
TenantStatus = strawberry.enum(TenantStatusEnum, name="TenantStatus")


@strawberry.type(description="A pemda, ministry or the national tenant, isolated in its own schema.")
class Tenant:
    slug: str
    name: str
    kind: TenantKind
    region_code: str | None = strawberry.field(description="Kemendagri region code, e.g. 53.71.")
    time_zone: str = strawberry.field(description="IANA time zone deadlines are counted in.")
    status: TenantStatus
    domains: list[str] = strawberry.field(description="Custom host names besides the slug host.")
    parent_slug: strawberry.Private[str | None]

    @strawberry.field(description="The tenant one level up (province, national), if any.")
    async def parent(self, info: strawberry.Info[LaporContext, None]) -> Tenant | None:
        if self.parent_slug is None:
            return None
        record = await info.context.services.directory.by_slug(self.parent_slug)
        return Tenant.from_record(record) if record else None

    @classmethod
    def from_record(cls, record: TenantRecord) -> Tenant:
        return cls(
            slug=record.slug,
            name=record.name,
            kind=record.kind,
            region_code=record.region_code,
            time_zone=record.time_zone,
            status=record.status,
            domains=list(record.domains),
            parent_slug=record.parent_slug,
        )
