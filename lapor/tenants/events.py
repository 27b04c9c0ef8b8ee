"""Announcing registry changes so every process's host cache forgets what it knew."""

from __future__ import annotations

from lapor.platform.bus import Bus
from lapor.platform.keys import REGISTRY_CHANNEL


async def announce_registry_change(bus: Bus, slug: str) -> None:
    await bus.publish(REGISTRY_CHANNEL, slug)
