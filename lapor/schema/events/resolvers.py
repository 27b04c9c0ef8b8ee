"""The ``complaintEvents`` subscription (graphql-transport-ws or graphql-ws on ``/graphql``).

Authorised when it starts, by the same ``complaints:read`` permission as the queries; the
websocket gate (``lapor.schema.events.socket``) ends it when the connection's token expires or
is revoked, charges it to the rate limit and caps how many run per connection. Each event is
filtered in memory (the optional tracking id, and a unit officer's own unit), since events carry
the unit's id. A cross-tenant reader (the Ombudsman) is audited when it subscribes and for every
event it receives (``lapor.schema.audit.audit_event_read``).

Each subscriber gets its own bounded queue fed by a bus handler: the bus listener serves every
subscriber of the process and must never wait for one slow client. When a queue overflows, the
subscription ends with ``SUBSCRIBER_TOO_SLOW`` (the client has missed events: it reloads and
subscribes again) rather than silently dropping some. The handler is removed from the bus when
the subscription ends for any reason (client ``complete``, disconnect, error).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

import strawberry

from lapor.platform.errors import DomainError
from lapor.schema.audit import audit_event_read
from lapor.schema.context import LaporContext
from lapor.schema.events.types import ComplaintEvent
from lapor.schema.permissions import requires
from lapor.tenants.complaints.events import ComplaintChange, events_channel

Info = strawberry.Info[LaporContext, None]
log = logging.getLogger(__name__)

QUEUE_SIZE = 100
"""Events waiting for one subscriber; more and the subscriber is too slow to follow."""


def visible(change: ComplaintChange, *, tracking_id: str | None, unit_id: int | None) -> bool:
    """Whether a subscriber sees ``change``: its tracking id filter, and a unit officer's unit
    (the same rule as the ``complaints`` query: only complaints now disposed to the unit)."""
    if tracking_id is not None and change.tracking_id != tracking_id:
        return False
    return unit_id is None or change.unit_id == unit_id


class EventFeed:
    """One subscriber's queue. ``offer`` is its bus handler; the subscription awaits ``next``."""

    def __init__(self, *, tracking_id: str | None, unit_id: int | None, size: int = QUEUE_SIZE) -> None:
        self.tracking_id = tracking_id
        self.unit_id = unit_id
        self._queue: asyncio.Queue[ComplaintEvent] = asyncio.Queue(maxsize=size)
        self._overflowed = False

    def offer(self, message: str) -> None:
        """Filter and queue one bus message; never blocks, never raises."""
        if self._overflowed:
            return
        try:
            change = ComplaintChange.from_json(message)
            if not visible(change, tracking_id=self.tracking_id, unit_id=self.unit_id):
                return
            event = ComplaintEvent.from_change(change)
        except ValueError as error:
            log.warning("ignored a complaint event: %s", error)
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._overflowed = True  # what is queued is dropped too: the client must reload anyway

    async def next(self) -> ComplaintEvent:
        if self._overflowed:
            raise DomainError(
                "SUBSCRIBER_TOO_SLOW",
                f"more than {self._queue.maxsize} events waited for this subscriber; "
                "reload and subscribe again",
            )
        return await self._queue.get()


@strawberry.type
class EventSubscription:
    @strawberry.subscription(
        permission_classes=[requires("complaints:read")],
        description=(
            "The tenant's complaint changes as they are committed, on any API process "
            "(a unit officer gets its unit's only). Optionally one complaint's."
        ),
    )
    async def complaint_events(
        self, info: Info, tracking_id: str | None = None
    ) -> AsyncGenerator[ComplaintEvent, None]:
        context = info.context
        actor = context.staff()
        wanted = (tracking_id or "").strip().upper() or None
        feed = EventFeed(tracking_id=wanted, unit_id=actor.unit_id)
        bus, channel = context.services.bus, events_channel(context.tenant.slug)
        await audit_event_read(context, actor, "complaint_events.subscribe", {"tracking_id": wanted})
        try:
            await bus.subscribe(channel, feed.offer)
            while True:
                event = await feed.next()
                await audit_event_read(
                    context,
                    actor,
                    "complaint_event.read",
                    {"tracking_id": event.tracking_id, "version": event.version, "action": event.action},
                )
                yield event
        finally:
            # Removes the handler before its first await, so even a second cancellation leaks nothing.
            await bus.unsubscribe(channel, feed.offer)
