"""The long-lived objects of one app process, built at startup and closed at shutdown."""

from __future__ import annotations

import os
from dataclasses import dataclass

from redis.asyncio import Redis

from lapor.auth.keys import SigningKeys
from lapor.auth.revocations import Revocations
from lapor.auth.server import LaporAuthorizationServer
from lapor.platform.bus import Bus, make_bus
from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.ratelimit import RateLimiter
from lapor.platform.secrets import Secrets, load_secrets
from lapor.settings import Settings
from lapor.tenants.complaints.events import change_publisher
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.transfers.service import TransferService


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    directory: TenantDirectory
    secrets: Secrets
    calendars: CalendarStore
    complaints: ComplaintService
    transfers: TransferService
    redis: Redis | None
    keys: SigningKeys
    revocations: Revocations
    oauth: LaporAuthorizationServer
    ratelimiter: RateLimiter

    @classmethod
    async def start(cls, settings: Settings, database_url: str) -> Services:
        db = Database(database_url, settings)
        bus = make_bus(settings.redis_url)
        directory = TenantDirectory(db, settings.base_domain, ttl=settings.host_cache_ttl)
        await directory.attach(bus)
        calendars = CalendarStore(db)
        await calendars.attach(bus)
        secrets = load_secrets(settings)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        keys = SigningKeys(db, secrets)
        await keys.ensure()
        await keys.attach(bus)
        if settings.allows_http_oauth:
            # Authlib's documented switch for plain-http development hosts (*.localhost, *.test).
            os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
        # Every committed change goes out on the tenant's event channel (GraphQL subscriptions).
        complaints = ComplaintService(db, secrets, calendars, on_change=change_publisher(bus))
        # Transfers act in two tenants at once; verification hands auto-apply transfer rules to them.
        transfers = TransferService(db, complaints, directory)
        complaints.apply_transfer_rule = transfers.apply_rule
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            directory=directory,
            secrets=secrets,
            calendars=calendars,
            complaints=complaints,
            transfers=transfers,
            redis=redis,
            keys=keys,
            revocations=Revocations(redis),
            oauth=LaporAuthorizationServer.for_platform(db, keys, settings, secrets, directory, redis),
            ratelimiter=RateLimiter.from_settings(settings),
        )

    async def close(self) -> None:
        await self.bus.close()
        await self.ratelimiter.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.db.dispose()
