"""Entering a tenant: the one place that opens a transaction on a tenant's behalf.

Two walls keep tenants apart (DESIGN.md section 2): ``search_path`` points at the tenant's
schema only, and the transaction runs as the tenant's own NOLOGIN role, which holds privileges
on that schema and nothing else. Both are set with ``set_config(..., is_local => true)``, i.e.
``SET LOCAL``: they end with the transaction, so a pooled connection (or pgbouncer in
transaction mode) never carries one tenant into the next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database

# One round trip; parameters, not string formatting, so no name can inject SQL.
_ENTER_TENANT = sa.text("SELECT set_config('search_path', :schema, true), set_config('role', :role, true)")


class TenantLike(Protocol):
    @property
    def schema_name(self) -> str: ...

    @property
    def role_name(self) -> str: ...

    @property
    def cluster(self) -> str: ...


async def enter_tenant(conn: AsyncConnection, tenant: TenantLike) -> None:
    """Switch the open transaction on ``conn`` into ``tenant`` (both walls, ``SET LOCAL``).

    Only ``tenant_transaction`` and the cross-tenant transfer service call this directly; the
    transfer enters the source, then the target, within one transaction.
    """
    await conn.execute(_ENTER_TENANT, {"schema": tenant.schema_name, "role": tenant.role_name})


@asynccontextmanager
async def tenant_transaction(db: Database, tenant: TenantLike) -> AsyncIterator[AsyncConnection]:
    """Open a transaction inside ``tenant``: commit on success, roll back on any error."""
    async with db.engine_for(tenant).begin() as conn:
        await enter_tenant(conn, tenant)
        yield conn
