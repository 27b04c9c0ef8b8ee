"""The long-lived objects of one app process, built at startup and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from lapor.platform.bus import Bus, make_bus
from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.secrets import Secrets, load_secrets
from lapor.settings import Settings
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.directory import TenantDirectory


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: Bus
    directory: TenantDirectory
    secrets: Secrets
    calendars: CalendarStore
    complaints: ComplaintService

    @classmethod
    async def start(cls, settings: Settings, database_url: str) -> Services:
        db = Database(database_url, settings)
        bus = make_bus(settings.redis_url)
        directory = TenantDirectory(db, settings.base_domain, ttl=settings.host_cache_ttl)
        await directory.attach(bus)
        calendars = CalendarStore(db)
        await calendars.attach(bus)
        secrets = load_secrets(settings)
        return cls(
            settings=settings,
            db=db,
            bus=bus,
            directory=directory,
            secrets=secrets,
            calendars=calendars,
            complaints=ComplaintService(db, secrets, calendars),
        )

    async def close(self) -> None:
        await self.bus.close()
        await self.db.dispose()
