"""One read transaction per GraphQL request, shared by every resolver and DataLoader.

Entering a tenant costs a statement; a request that lists 50 complaints with their units,
categories and last events would pay it once per loader. Here the request opens the tenant
transaction lazily on first use (through ``tenant_transaction``, the only way in) and closes it
when the operation ends. Loads are serialised with a lock: one connection runs one statement at
a time, and DataLoaders batch anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database
from lapor.tenants.context import tenant_transaction
from lapor.tenants.records import Tenant

T = TypeVar("T")
log = logging.getLogger(__name__)


class RequestDatabase:
    def __init__(self, db: Database, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._conn: AsyncConnection | None = None

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` on the request's connection. Shielded: GraphQL execution cancels sibling
        resolvers when one fails, and a statement cut off half-way would break the connection
        for every other resolver of the request."""
        return await asyncio.shield(self._run(work))

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._lock:
            if self._conn is None:
                stack = AsyncExitStack()
                self._conn = await stack.enter_async_context(tenant_transaction(self.db, self.tenant))
                self._stack = stack
            return await work(self._conn)

    async def close(self) -> None:
        """Commit the request's transaction (it may hold audit rows of what was read)."""
        async with self._lock:
            stack, self._stack, self._conn = self._stack, None, None
            if stack is None:
                return
            try:
                await stack.aclose()
            except Exception:  # the answer is already computed; the pool gets the connection back
                log.exception("could not end the request's transaction")

    async def refresh(self) -> None:
        """Forget the open transaction so the next read sees what a mutation just committed."""
        await self.close()
