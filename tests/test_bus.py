"""Pub/sub between processes through real Redis, and the in-process stand-in."""

from __future__ import annotations

import asyncio
import uuid

from lapor.platform.bus import InProcessBus, RedisBus, make_bus


async def test_redis_message_reaches_a_subscriber_on_another_connection(redis_url) -> None:
    channel = f"lapor:test:{uuid.uuid4().hex}"
    publisher, subscriber = make_bus(redis_url), make_bus(redis_url)
    assert isinstance(publisher, RedisBus)
    received: asyncio.Queue[str] = asyncio.Queue()
    try:
        await subscriber.subscribe(channel, received.put_nowait)
        await publisher.publish(channel, "ttu")
        assert await asyncio.wait_for(received.get(), timeout=5) == "ttu"
    finally:
        await publisher.close()
        await subscriber.close()


async def test_in_process_bus_delivers_and_survives_a_failing_handler() -> None:
    bus = InProcessBus()
    got: list[str] = []

    def broken(_message: str) -> None:
        raise RuntimeError("handler bug")

    await bus.subscribe("c", broken)
    await bus.subscribe("c", got.append)
    await bus.publish("c", "hello")
    assert got == ["hello"]


async def test_publishing_with_redis_down_does_not_fail() -> None:
    bus = make_bus("redis://127.0.0.1:1/0")
    got: list[str] = []
    await bus.subscribe("c", got.append)
    await bus.publish("c", "still works locally")
    assert got == ["still works locally"]
    await bus.close()
