"""Entering a tenant: the one place that opens a transaction on a tenant's behalf.

Two walls keep tenants apart (DESIGN.md section 2): ``search_path`` points at the tenant's
schema only, and the transaction runs as the tenant's own NOLOGIN role, which holds privileges
on that schema and nothing else. Both are set with ``set_config(..., is_local => true)``, i.e.
``SET LOCAL``: they end with the transaction, so a pooled connection (or pgbouncer in
transaction mode) never carries one tenant into the next request.

The same statement bounds the transaction's statements (issue 9, item 3): a
``statement_timeout``, also ``SET LOCAL``, chosen by who the work is for. Public callers get a
short one (``LAPOR_DB_TIMEOUT_PUBLIC``), authenticated staff and clients a longer one
(``LAPOR_DB_TIMEOUT_STAFF``), work outside any request (worker, CLI) the longest
(``LAPOR_DB_TIMEOUT_BACKGROUND``). The request sets its class in a context variable
(``use_budget``: the host middleware says PUBLIC for every tenant request, the GraphQL view says
STAFF once a token is verified), so no caller can forget it and no code path can skip it. A
statement that runs out answers ``QUERY_TIMEOUT``, not an internal error.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar, Token
from typing import Protocol

import psycopg.errors
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.settings import Settings

# One round trip; parameters, not string formatting, so no name can inject SQL.
_ENTER_TENANT = sa.text(
    "SELECT set_config('search_path', :schema, true), set_config('role', :role, true),"
    " set_config('statement_timeout', :timeout, true)"
)


class Budget(enum.Enum):
    """Whose work a tenant transaction does, which decides how long one statement may run."""

    PUBLIC = "public"
    STAFF = "staff"
    BACKGROUND = "background"


_budget: ContextVar[Budget] = ContextVar("lapor_statement_budget", default=Budget.BACKGROUND)


def use_budget(budget: Budget) -> Token[Budget]:
    """Tenant transactions opened from here on (in this task and the tasks it starts) bound their
    statements by ``budget``. Returns the token to ``reset_budget`` with."""
    return _budget.set(budget)


def reset_budget(token: Token[Budget]) -> None:
    _budget.reset(token)


def current_budget() -> Budget:
    return _budget.get()


def timeout_seconds(settings: Settings, budget: Budget | None = None) -> float:
    """The statement timeout of ``budget`` (default: the current one); 0 means none."""
    chosen = budget or _budget.get()
    if chosen is Budget.PUBLIC:
        return settings.db_timeout_public
    if chosen is Budget.STAFF:
        return settings.db_timeout_staff
    return settings.db_timeout_background


class TenantLike(Protocol):
    @property
    def schema_name(self) -> str: ...

    @property
    def role_name(self) -> str: ...

    @property
    def cluster(self) -> str: ...


async def enter_tenant(conn: AsyncConnection, tenant: TenantLike, settings: Settings | None = None) -> None:
    """Switch the open transaction on ``conn`` into ``tenant`` (both walls and the statement
    timeout, all ``SET LOCAL``).

    Only ``tenant_transaction`` and the cross-tenant transfer service call this directly; the
    transfer enters the source, then the target, within one transaction. Without ``settings``
    (the transfer) the defaults' timeouts apply.
    """
    milliseconds = round(timeout_seconds(settings or _DEFAULTS) * 1000)
    await conn.execute(
        _ENTER_TENANT,
        {"schema": tenant.schema_name, "role": tenant.role_name, "timeout": str(milliseconds)},
    )


_DEFAULTS = Settings()


def query_timeout(error: BaseException, settings: Settings | None = None) -> DomainError | None:
    """The coded error for a statement PostgreSQL cancelled (its ``statement_timeout`` or a
    cancel request: the client went away), ``None`` for anything else."""
    original = error.orig if isinstance(error, DBAPIError) else error
    if not isinstance(original, psycopg.errors.QueryCanceled):
        return None
    after_id, after_en = "", ""
    if settings is not None:
        seconds = f"{timeout_seconds(settings):g}"
        after_id, after_en = f" setelah {seconds} detik", f" after {seconds} seconds"
    return DomainError(
        "QUERY_TIMEOUT",
        f"Permintaan ini terlalu lama diproses dan dihentikan{after_id}; persempit pencarian atau "
        f"coba lagi nanti. (The query took too long and was stopped{after_en}; narrow the search "
        "or try again later.)",
    )


@asynccontextmanager
async def tenant_transaction(db: Database, tenant: TenantLike) -> AsyncIterator[AsyncConnection]:
    """Open a transaction inside ``tenant``: commit on success, roll back on any error."""
    async with db.engine_for(tenant).begin() as conn:
        await enter_tenant(conn, tenant, db.settings)
        try:
            yield conn
        except DBAPIError as error:
            timed_out = query_timeout(error, db.settings)
            if timed_out is None:
                raise
            raise timed_out from error
