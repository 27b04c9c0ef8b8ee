"""Database engines: one place that knows which PostgreSQL cluster a tenant lives on.

All tenant access goes through :meth:`Database.engine_for`, so placing tenants on several
clusters later (Citus or separate servers, DESIGN.md section 9) is a routing change here.
"""

from __future__ import annotations

import logging
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lapor.settings import Settings

log = logging.getLogger(__name__)

MAIN_CLUSTER = "main"


class OnCluster(Protocol):
    """Anything that says which cluster it lives on (a tenant record)."""

    @property
    def cluster(self) -> str: ...


def async_url(url: str) -> str:
    """Turn ``postgresql://...`` into the SQLAlchemy URL for psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ValueError(f"LAPOR_DATABASE_URL must be a postgresql:// URL, got {parsed.drivername}")
    return parsed.render_as_string(hide_password=False)


def create_engine(
    url: str, settings: Settings, *, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    """An async engine whose connections never carry session state between transactions.

    Tenant context is set with ``SET LOCAL`` only; on top of that the pool's reset-on-return
    rolls back, which discards any ``SET LOCAL`` a failed request left behind.
    """
    connect_args: dict[str, object] = {
        "prepare_threshold": settings.db_prepare_threshold,
        "application_name": "lapor",
    }
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow if max_overflow is None else max_overflow,
        pool_pre_ping=True,
        pool_reset_on_return="rollback",
        connect_args=connect_args,
        hide_parameters=True,  # error messages and logs never carry bound values (codes, hashes)
    )
    return engine


class Database:
    """The engines of one process: ``public`` and one per tenant cluster."""

    def __init__(
        self,
        url: str,
        settings: Settings,
        *,
        pool_size: int | None = None,
        max_overflow: int | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self._engines: dict[str, AsyncEngine] = {
            MAIN_CLUSTER: create_engine(url, settings, pool_size=pool_size, max_overflow=max_overflow)
        }
        self._sync: Engine | None = None

    @property
    def sync_public(self) -> Engine:
        """A small synchronous engine for libraries that are not async (Authlib's grant flows run
        in a thread pool). Created on first use."""
        if self._sync is None:
            self._sync = sa.create_engine(
                async_url(self.url),
                pool_size=4,
                max_overflow=4,
                pool_pre_ping=True,
                connect_args={
                    "prepare_threshold": self.settings.db_prepare_threshold,
                    "application_name": "lapor",
                },
            )
        return self._sync

    @property
    def public(self) -> AsyncEngine:
        """The engine for the shared ``public`` schema (registry, national index, ...)."""
        return self._engines[MAIN_CLUSTER]

    def engine_for(self, tenant: OnCluster) -> AsyncEngine:
        """The engine of the cluster holding ``tenant``'s schema."""
        try:
            return self._engines[tenant.cluster]
        except KeyError:
            raise LookupError(f"no database configured for cluster {tenant.cluster!r}") from None

    async def dispose(self) -> None:
        for engine in self._engines.values():
            await engine.dispose()
        if self._sync is not None:
            self._sync.dispose()
