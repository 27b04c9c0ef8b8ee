"""Host -> tenant resolution, cached in-process and invalidated on registry changes.

Every request asks this; it must not cost a database round trip. Entries live ``ttl`` seconds
(so a change made by another process without Redis shows within that time), and every cache is
cleared at once when a ``registry-changed`` message arrives on the bus (Redis pub/sub when
configured). Concurrent misses for one host share one query.
"""

from __future__ import annotations

import asyncio
import logging
import time

from lapor.platform.bus import Bus
from lapor.platform.db import Database
from lapor.platform.keys import REGISTRY_CHANNEL
from lapor.tenants.records import Tenant
from lapor.tenants.registry import find_by_host, get_tenant
from lapor.tenants.validation import TenantError

log = logging.getLogger(__name__)

# Unknown hosts are remembered briefly and in bounded number: random Host headers must neither
# reach the database on every request nor grow memory without limit.
_NEGATIVE_TTL = 5.0
_MAX_ENTRIES = 20_000


class TenantDirectory:
    def __init__(self, db: Database, base_domain: str, ttl: float = 30.0) -> None:
        self.db = db
        self.base_domain = base_domain
        self.ttl = ttl
        self._by_host: dict[str, tuple[Tenant | None, float]] = {}
        self._by_slug: dict[str, tuple[Tenant, float]] = {}
        self._pending: dict[str, asyncio.Task[Tenant | None]] = {}

    async def attach(self, bus: Bus) -> None:
        """Listen for registry changes made by any process."""
        await bus.subscribe(REGISTRY_CHANNEL, self._on_change)

    def _on_change(self, message: str) -> None:
        log.debug("registry changed (%s): clearing host cache", message)
        self.invalidate()

    def invalidate(self) -> None:
        self._by_host.clear()
        self._by_slug.clear()

    def __len__(self) -> int:
        return len(self._by_host)

    async def resolve(self, host: str) -> Tenant | None:
        """The tenant served at normalized ``host``, or ``None``."""
        now = time.monotonic()
        cached = self._by_host.get(host)
        if cached is not None and cached[1] > now:
            return cached[0]
        pending = self._pending.get(host)
        if pending is None:
            # One lookup per host, in a task of its own: a waiter that is cancelled (client gone)
            # cancels neither the lookup nor the other waiters.
            pending = asyncio.ensure_future(self._lookup(host, now))
            self._pending[host] = pending
            pending.add_done_callback(lambda _done: self._pending.pop(host, None))
        return await asyncio.shield(pending)

    async def _lookup(self, host: str, now: float) -> Tenant | None:
        tenant = await find_by_host(self.db, host, self.base_domain)
        self._remember(host, tenant, now)
        return tenant

    def _remember(self, host: str, tenant: Tenant | None, now: float) -> None:
        if len(self._by_host) >= _MAX_ENTRIES:
            self._by_host.clear()
        ttl = self.ttl if tenant is not None else min(self.ttl, _NEGATIVE_TTL)
        self._by_host[host] = (tenant, now + ttl)
        if tenant is not None:
            self._by_slug[tenant.slug] = (tenant, now + self.ttl)

    async def by_slug(self, slug: str) -> Tenant | None:
        """A tenant by slug (parents, transfer targets), from the same cache."""
        now = time.monotonic()
        cached = self._by_slug.get(slug)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            tenant = await get_tenant(self.db, slug)
        except TenantError:
            return None
        self._by_slug[slug] = (tenant, now + self.ttl)
        return tenant
