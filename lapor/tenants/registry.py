"""Reading and changing the tenant registry in ``public`` (creation lives in provisioning.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database
from lapor.platform.public_tables import tenant as tenant_table
from lapor.platform.public_tables import tenant_domain
from lapor.tenants.records import Tenant, TenantKind, TenantStatus
from lapor.tenants.validation import TenantError

_parent = tenant_table.alias("parent")
_domains = (
    sa.select(sa.func.array_agg(aggregate_order_by(tenant_domain.c.host, tenant_domain.c.host)))
    .where(tenant_domain.c.tenant_id == tenant_table.c.id)
    .scalar_subquery()
)

_SELECT_TENANTS = (
    sa.select(
        tenant_table.c.id,
        tenant_table.c.slug,
        tenant_table.c.name,
        tenant_table.c.kind,
        _parent.c.slug.label("parent_slug"),
        tenant_table.c.region_code,
        tenant_table.c.time_zone,
        tenant_table.c.status,
        tenant_table.c.status_reason,
        tenant_table.c.schema_name,
        tenant_table.c.role_name,
        tenant_table.c.cluster,
        _domains.label("domains"),
    )
    .select_from(tenant_table.outerjoin(_parent, _parent.c.id == tenant_table.c.parent_id))
    .order_by(tenant_table.c.slug)
)


def _record(row: sa.Row) -> Tenant:
    return Tenant(
        id=row.id,
        slug=row.slug,
        name=row.name,
        kind=TenantKind(row.kind),
        parent_slug=row.parent_slug,
        region_code=row.region_code,
        time_zone=row.time_zone,
        status=TenantStatus(row.status),
        status_reason=row.status_reason,
        schema_name=row.schema_name,
        role_name=row.role_name,
        cluster=row.cluster,
        domains=tuple(row.domains or ()),
    )


async def list_tenants(
    db: Database, *, kind: TenantKind | None = None, status: TenantStatus | None = None
) -> list[Tenant]:
    query = _SELECT_TENANTS
    if kind is not None:
        query = query.where(tenant_table.c.kind == kind.value)
    if status is not None:
        query = query.where(tenant_table.c.status == status.value)
    async with db.public.connect() as conn:
        return [_record(row) for row in await conn.execute(query)]


async def fetch_by_slug(conn: AsyncConnection, slug: str) -> Tenant | None:
    row = (await conn.execute(_SELECT_TENANTS.where(tenant_table.c.slug == slug))).first()
    return _record(row) if row else None


async def get_tenant(db: Database, slug: str) -> Tenant:
    async with db.public.connect() as conn:
        found = await fetch_by_slug(conn, slug)
    if found is None:
        raise TenantError("UNKNOWN_TENANT", f"no tenant with slug {slug!r}", "slug")
    return found


async def find_by_host(db: Database, host: str, base_domain: str) -> Tenant | None:
    """The tenant a normalized host belongs to: ``<slug>.<base>``, a custom domain, or national."""
    if host == base_domain:
        condition = tenant_table.c.kind == TenantKind.NATIONAL.value
    elif host.endswith("." + base_domain) and "." not in host[: -len(base_domain) - 1]:
        condition = tenant_table.c.slug == host[: -len(base_domain) - 1]
    else:
        owner = sa.select(tenant_domain.c.tenant_id).where(tenant_domain.c.host == host)
        condition = tenant_table.c.id == owner.scalar_subquery()
    async with db.public.connect() as conn:
        row = (await conn.execute(_SELECT_TENANTS.where(condition))).first()
    return _record(row) if row else None


async def set_status(db: Database, slug: str, status: TenantStatus, reason: str | None = None) -> Tenant:
    """Suspend or reactivate a tenant. Its data stays; its hosts answer 403 while suspended."""
    async with db.public.begin() as conn:
        updated = await conn.execute(
            tenant_table.update()
            .where(tenant_table.c.slug == slug)
            .values(status=status.value, status_reason=reason, updated_at=sa.func.now())
        )
        if updated.rowcount == 0:
            raise TenantError("UNKNOWN_TENANT", f"no tenant with slug {slug!r}", "slug")
        found = await fetch_by_slug(conn, slug)
    assert found is not None
    return found
