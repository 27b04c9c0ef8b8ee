"""One read transaction per GraphQL request, shared by every resolver and DataLoader.

Entering a tenant costs a statement; a request that lists 50 complaints with their units,
categories and last events would pay it once per loader. Here the request opens the tenant
transaction lazily on first use (through ``tenant_transaction``, the only way in) and closes it
when the operation ends. Loads are serialised with a lock: one connection runs one statement at
a time, and DataLoaders batch anyway.

Bounds (issue 9, item 3): every statement runs under the transaction's ``statement_timeout``
and one that runs out answers ``QUERY_TIMEOUT``; when the client goes away
(``lapor.platform.client_watch``) the running statement is cancelled in PostgreSQL instead of
running on for nobody, and the request's later reads are refused without touching the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.client_watch import on_client_gone
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.tenants.context import query_timeout, tenant_transaction
from lapor.tenants.records import Tenant

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Abandoned(Exception):
    """Ends the transaction of a request whose client left: roll back, never commit."""


def _client_gone() -> DomainError:
    return DomainError(
        "CLIENT_GONE",
        "Klien memutus sambungan sebelum jawaban selesai. (The client disconnected before the answer.)",
    )


class RequestDatabase:
    def __init__(self, db: Database, tenant: Tenant) -> None:
        self.db = db
        self.tenant = tenant
        self._lock = asyncio.Lock()
        self._stack: AsyncExitStack | None = None
        self._conn: AsyncConnection | None = None
        self._timed_out: DomainError | None = None
        self._abandoned = False
        self._running: set[asyncio.Task] = set()
        self._watching = False

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` on the request's connection. Shielded: GraphQL execution cancels sibling
        resolvers when one fails, and a statement cut off half-way would break the connection
        for every other resolver of the request. Only when the HTTP client itself is gone is
        the statement cancelled (psycopg then sends PostgreSQL a cancel request), and every
        later read refused: ``CLIENT_GONE``."""
        if not self._watching:
            self._watching = on_client_gone(self._client_left)
        task = asyncio.ensure_future(self._run(work))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and self._abandoned:
                raise _client_gone() from None
            raise

    def _client_left(self) -> None:
        self._abandoned = True
        for task in list(self._running):
            task.cancel()

    async def _run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._lock:
            if self._abandoned:
                raise _client_gone()
            if self._timed_out is not None:  # the transaction is aborted: every later read fails alike
                raise self._timed_out
            if self._conn is None:
                stack = AsyncExitStack()
                self._conn = await stack.enter_async_context(tenant_transaction(self.db, self.tenant))
                self._stack = stack
            try:
                return await work(self._conn)
            except DBAPIError as error:
                timed_out = query_timeout(error, self.db.settings)
                if timed_out is None:
                    raise
                self._timed_out = timed_out
                raise timed_out from error

    async def close(self) -> None:
        """Commit the request's transaction (it may hold audit rows of what was read); roll it
        back when the client left mid-request."""
        async with self._lock:
            stack, self._stack, self._conn = self._stack, None, None
            self._timed_out = None
            if stack is None:
                return
            try:
                if self._abandoned:
                    await stack.__aexit__(_Abandoned, _Abandoned(), None)
                else:
                    await stack.aclose()
            except _Abandoned:
                pass
            except Exception:  # the answer is already computed; the pool gets the connection back
                log.exception("could not end the request's transaction")

    async def refresh(self) -> None:
        """Forget the open transaction so the next read sees what a mutation just committed."""
        await self.close()
