"""Publish/subscribe between app processes: Redis when configured, in-process otherwise.

Used for cache invalidation (the tenant registry, keys, holidays) and complaint events. Handlers
run in the subscriber's event loop; a failing handler is logged and never stops the listener.
Short-lived subscribers (one per GraphQL subscription) must ``unsubscribe`` when they end, or their
handlers would pile up for the life of the process.
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
        for handler in list(self._handlers.get(channel, ())):
            await _call(handler, message)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers[channel].append(handler)

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        """Forget ``handler`` (once, if it was added twice); unknown handlers are ignored."""
        _remove(self._handlers, channel, handler)

    async def close(self) -> None:
        self._handlers.clear()


class RedisBus:
    """Redis pub/sub. If Redis is unreachable, publishing logs and goes on (callers rely on TTLs).

    One connection listens for the whole process. Which channels it is subscribed to follows
    ``_handlers`` through ``_sync``, run under a lock after every change: SUBSCRIBE and UNSUBSCRIBE
    sent by concurrent subscribers could otherwise reach Redis in the wrong order and leave a
    channel subscribed with no handler (or a handler with no subscription).
    """

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: PubSub | None = None
        self._applied: set[str] = set()
        """Channels Redis was told to subscribe ``_pubsub`` to."""
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()

    async def publish(self, channel: str, message: str) -> None:
        try:
            await self._redis.publish(channel, message)
        except Exception as error:
            log.warning("could not publish on %s: %s", channel, error)
            # Still reach this process's own subscribers.
            for handler in list(self._handlers.get(channel, ())):
                await _call(handler, message)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Register ``handler``; returns once the SUBSCRIBE went to Redis (or in 2 s)."""
        self._handlers[channel].append(handler)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="lapor-bus")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._ready.wait()
                await asyncio.shield(self._sync())  # a cancelled caller must not cancel the sync

    async def unsubscribe(self, channel: str, handler: Handler) -> None:
        """Forget ``handler``; Redis is told to drop the channel once its last handler is gone.

        The handler is removed before the first ``await``, so a subscriber cancelled while this
        runs never receives another message.
        """
        if not _remove(self._handlers, channel, handler) or channel in self._handlers:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.shield(self._sync())

    async def _sync(self) -> None:
        """Subscribe to the channels that have handlers and leave the others. Serialised, so the
        last call sees the last state; a failure is retried by the next call or reconnection."""
        async with self._lock:
            pubsub = self._pubsub
            if pubsub is None:
                return  # the listener subscribes to everything when it (re)connects
            wanted = set(self._handlers)
            missing, extra = wanted - self._applied, self._applied - wanted
            try:
                if missing:
                    await pubsub.subscribe(*missing)
                    self._applied |= missing
                if extra:
                    await pubsub.unsubscribe(*extra)
                    self._applied -= extra
            except Exception as error:
                log.warning("could not update bus subscriptions: %s", error)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._lock:
                    self._pubsub = self._redis.pubsub()
                    self._applied = set(self._handlers)
                    if self._applied:
                        await self._pubsub.subscribe(*self._applied)
                    else:
                        await self._pubsub.connect()
                self._ready.set()
                # Not ``listen()``: it returns once no channel is left, and a later SUBSCRIBE
                # would then go to a connection nobody reads.
                while True:
                    item = await self._pubsub.get_message(timeout=None)
                    if item is None or item.get("type") != "message":
                        continue
                    channel = _text(item["channel"])
                    for handler in list(self._handlers.get(channel, ())):
                        await _call(handler, _text(item["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._ready.clear()
                log.warning("bus listener lost Redis (%s); retrying in 1 s", error)
                # Close the broken connection; until the next round, ``subscribe`` only registers.
                broken, self._pubsub, self._applied = self._pubsub, None, set()
                if broken is not None:
                    with contextlib.suppress(Exception):
                        await broken.aclose()
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


def _remove(handlers: dict[str, list[Handler]], channel: str, handler: Handler) -> bool:
    """Remove one registration of ``handler``; drop the channel when none is left (so a Redis
    reconnect does not resubscribe to it). Returns whether there was one."""
    registered = handlers.get(channel)
    if not registered or handler not in registered:
        return False
    registered.remove(handler)
    if not registered:
        del handlers[channel]
    return True


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


Bus = InProcessBus | RedisBus


def make_bus(redis_url: str | None) -> Bus:
    if redis_url is None:
        return InProcessBus()
    return RedisBus(Redis.from_url(redis_url))
