"""Publish/subscribe between app processes: Redis when configured, in-process otherwise.

Used for cache invalidation (the tenant registry) now, and complaint events later. Handlers run
in the subscriber's event loop; a failing handler is logged and never stops the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

log = logging.getLogger(__name__)

Handler = Callable[[str], Awaitable[None] | None]


async def _call(handler: Handler, message: str) -> None:
    try:
        result = handler(message)
        if asyncio.iscoroutine(result):
            await result
    except Exception:
        log.exception("bus handler failed")


class InProcessBus:
    """The stand-in without Redis: reaches subscribers in this process only."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def publish(self, channel: str, message: str) -> None:
        for handler in list(self._handlers[channel]):
            await _call(handler, message)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers[channel].append(handler)

    async def close(self) -> None:
        self._handlers.clear()


class RedisBus:
    """Redis pub/sub. If Redis is unreachable, publishing logs and goes on (callers rely on TTLs)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._ready = asyncio.Event()

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._redis.publish(channel, message)
        except Exception as error:
            log.warning("could not publish on %s: %s", channel, error)
            # Still reach this process's own subscribers.
            for handler in list(self._handlers[channel]):
                await _call(handler, message)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Register ``handler``; returns once Redis confirmed the subscription (or in 2 s)."""
        self._handlers[channel].append(handler)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="lapor-bus")
        elif self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.subscribe(channel)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=2.0)

    async def _listen(self) -> None:
        while True:
            try:
                self._pubsub = self._redis.pubsub()
                await self._pubsub.subscribe(*self._handlers)
                self._ready.set()
                async for item in self._pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    channel = _text(item["channel"])
                    for handler in list(self._handlers.get(channel, ())):
                        await _call(handler, _text(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._ready.clear()
                log.warning("bus listener lost Redis (%s); retrying in 1 s", error)
                await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


Bus = InProcessBus | RedisBus


def make_bus(redis_url: str | None) -> Bus:
    if redis_url is None:
        return InProcessBus()
    return RedisBus(Redis.from_url(redis_url))
