"""Host -> tenant resolution, cached in-process and invalidated on registry changes.

Every request asks this; it must not cost a database round trip. Entries live ``ttl`` seconds
(so a change made by another process without Redis shows within that time), and every cache is
cleared at once when a ``registry-changed`` message arrives on the bus (Redis pub/sub when
configured). Concurrent misses for one host share one query.

Bounded memory without a flush (issue 9, item 11): known hosts and unknown hosts are kept in two
separate least-recently-used maps. Random ``Host`` headers fill only the small unknown map and
push out only each other; a tenant's entry is evicted only by other tenants' (there are far fewer
than ``max_hosts``). Before, 20,000 distinct unknown hosts cleared the whole cache, known tenants
included, so every tenant's next request paid a registry query again. Unknown hosts are also
limited per client IP, in front of this (``TenantHostMiddleware``): each lookup costs a query.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Final, TypeVar

from lapor.platform.bus import Bus
from lapor.platform.db import Database
from lapor.platform.keys import REGISTRY_CHANNEL
from lapor.tenants.records import Tenant
from lapor.tenants.registry import find_by_host, get_tenant
from lapor.tenants.validation import TenantError

log = logging.getLogger(__name__)

# Unknown hosts are remembered briefly (a tenant created for one shows within seconds) and in
# smaller number than known ones: there are about 700 tenants, and any number of made-up hosts.
NEGATIVE_TTL = 5.0
MAX_HOSTS = 20_000
MAX_UNKNOWN = 5_000

V = TypeVar("V")


class _Missing:
    """Not in either cache (or expired): only a lookup can tell."""


MISSING: Final = _Missing()


class TenantDirectory:
    def __init__(
        self,
        db: Database,
        base_domain: str,
        ttl: float = 30.0,
        *,
        max_hosts: int = MAX_HOSTS,
        max_unknown: int = MAX_UNKNOWN,
        negative_ttl: float = NEGATIVE_TTL,
    ) -> None:
        self.db = db
        self.base_domain = base_domain
        self.ttl = ttl
        self.max_hosts = max_hosts
        self.max_unknown = max_unknown
        self.negative_ttl = min(ttl, negative_ttl)
        self._by_host: OrderedDict[str, tuple[Tenant, float]] = OrderedDict()
        self._unknown: OrderedDict[str, float] = OrderedDict()
        self._by_slug: OrderedDict[str, tuple[Tenant, float]] = OrderedDict()
        self._pending: dict[str, asyncio.Task[Tenant | None]] = {}

    async def attach(self, bus: Bus) -> None:
        """Listen for registry changes made by any process."""
        await bus.subscribe(REGISTRY_CHANNEL, self._on_change)

    def _on_change(self, message: str) -> None:
        log.debug("registry changed (%s): clearing host cache", message)
        self.invalidate()

    def invalidate(self) -> None:
        self._by_host.clear()
        self._unknown.clear()
        self._by_slug.clear()

    def __len__(self) -> int:
        """Known hosts held (unknown ones are counted by ``unknown_count``)."""
        return len(self._by_host)

    @property
    def unknown_count(self) -> int:
        return len(self._unknown)

    def cached(self, host: str) -> Tenant | _Missing | None:
        """What the caches say about ``host`` without asking the database: the tenant, ``None``
        (known to be unknown), or ``MISSING``."""
        now = time.monotonic()
        known = self._by_host.get(host)
        if known is not None and known[1] > now:
            self._by_host.move_to_end(host)
            return known[0]
        expires = self._unknown.get(host)
        if expires is not None:
            if expires > now:
                self._unknown.move_to_end(host)
                return None
            del self._unknown[host]
        return MISSING

    def was_known(self, host: str) -> bool:
        """Whether ``host`` served a tenant when last looked up (its entry may have expired: it is
        kept, and refreshed by the next lookup, until evicted or the registry changes)."""
        return host in self._by_host

    async def resolve(self, host: str) -> Tenant | None:
        """The tenant served at normalized ``host``, or ``None``."""
        cached = self.cached(host)
        if not isinstance(cached, _Missing):
            return cached
        pending = self._pending.get(host)
        if pending is None:
            # One lookup per host, in a task of its own: a waiter that is cancelled (client gone)
            # cancels neither the lookup nor the other waiters.
            pending = asyncio.ensure_future(self._lookup(host))
            self._pending[host] = pending
            pending.add_done_callback(lambda _done: self._pending.pop(host, None))
        return await asyncio.shield(pending)

    async def _lookup(self, host: str) -> Tenant | None:
        tenant = await find_by_host(self.db, host, self.base_domain)
        self._remember(host, tenant, time.monotonic())
        return tenant

    def _remember(self, host: str, tenant: Tenant | None, now: float) -> None:
        if tenant is None:
            self._by_host.pop(host, None)
            _put(self._unknown, host, now + self.negative_ttl, self.max_unknown)
            return
        self._unknown.pop(host, None)
        _put(self._by_host, host, (tenant, now + self.ttl), self.max_hosts)
        _put(self._by_slug, tenant.slug, (tenant, now + self.ttl), self.max_hosts)

    async def by_slug(self, slug: str) -> Tenant | None:
        """A tenant by slug (parents, transfer targets), from the same cache."""
        now = time.monotonic()
        cached = self._by_slug.get(slug)
        if cached is not None and cached[1] > now:
            self._by_slug.move_to_end(slug)
            return cached[0]
        try:
            tenant = await get_tenant(self.db, slug)
        except TenantError:
            return None
        _put(self._by_slug, slug, (tenant, now + self.ttl), self.max_hosts)
        return tenant


def _put(entries: OrderedDict[str, V], key: str, value: V, bound: int) -> None:
    """Insert as most recently used; past ``bound``, forget the least recently used entries."""
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > bound:
        entries.popitem(last=False)
