"""The GraphQL websocket gate (issue 9 item 6).

An outside review sent, over ``graphql-transport-ws`` without a token, 400 queries in 0.2 s, 20
ten-alias ``submitComplaint`` mutations (200 complaints), 30-alias introspections, and opened 30
connections of 100 subscriptions each from one IP, none of it charged. Now:

* only subscriptions run over the websocket; a query or mutation gets an ``error`` message with
  ``SUBSCRIPTIONS_ONLY`` (they go over HTTP, where they are charged and limited);
* every subscription is charged to the rate limit as the same document would be over HTTP
  (``lapor.schema.gate.operation_cost``), refused with ``RATE_LIMITED`` and ``retryAfter``;
* at most ``LAPOR_WS_SUBSCRIPTIONS_PER_CONNECTION`` subscriptions run per connection
  (``TOO_MANY_SUBSCRIPTIONS``);
* at most ``LAPOR_WS_CONNECTIONS_PER_IP`` connections are open per IP, across processes, and a
  handshake costs the IP one point of its platform-wide bucket: an IP over either gets HTTP 429
  instead of the upgrade; at most ``LAPOR_WS_CONNECTIONS_PER_TOKEN`` per access token (the token
  may come only in ``connection_init``, so that one closes the socket with 4429);
* a connection's token is watched: at its ``exp``, or at the first check (every
  ``LAPOR_WS_AUTH_RECHECK`` seconds) after it is revoked, every subscription on it ends with an
  ``error`` message coded ``UNAUTHENTICATED`` and the socket closes with 4401.

Connection counts are leases (``lapor.platform.ratelimit.Leases``) refreshed by the same watch,
so a process that dies frees its connections' places within the lease's time to live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import GraphQLSchema, OperationType
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from lapor.platform.keys import platform_key
from lapor.platform.ratelimit import client_ip
from lapor.schema.context import LaporContext
from lapor.schema.gate import CallerToken, charge, coded, error_body, operation_cost, parsed, rate_limited
from lapor.schema.limits import operation_of

if TYPE_CHECKING:
    from lapor.platform.services import Services

log = logging.getLogger(__name__)

LEASE_TTL_FLOOR = 60.0
"""Seconds a connection's place is kept without a refresh (at least three checks' worth)."""
CLOSE_UNAUTHENTICATED = 4401
CLOSE_TOO_MANY = 4429


def _subscriptions_only() -> dict[str, Any]:
    return coded(
        "SUBSCRIPTIONS_ONLY",
        "Lewat websocket hanya subscription yang dilayani; kirim query dan mutation lewat HTTP POST "
        "/graphql (only subscriptions run over the websocket; send queries and mutations with HTTP POST).",
    )


def _too_many_subscriptions(limit: int) -> dict[str, Any]:
    return coded(
        "TOO_MANY_SUBSCRIPTIONS",
        f"Paling banyak {limit} subscription per koneksi (at most {limit} subscriptions per connection).",
    )


def _token_ended(reason: str) -> dict[str, Any]:
    return coded(
        "UNAUTHENTICATED",
        f"Token akses {reason[0]}; langganan dihentikan. Hubungkan lagi dengan token baru "
        f"(the access token {reason[1]}; the subscription ended: reconnect with a new token).",
    )


EXPIRED = ("kedaluwarsa", "expired")
REVOKED = ("dicabut", "was revoked")


class ConnectionGate:
    """What one websocket holds: its places (leases) per IP and per token, and its token."""

    def __init__(self, websocket: WebSocket, services: Services) -> None:
        self.websocket = websocket
        self.services = services
        self.settings = services.settings
        self.leases = services.ratelimiter.leases
        self.member = uuid.uuid4().hex
        self.ip = client_ip(websocket.scope)
        self.held: dict[str, int] = {}
        """Lease key -> its limit, refreshed by ``check``."""
        self.token: CallerToken | None = None
        self.refusal: tuple[int, str] | None = None
        """Set when ``connection_init`` brought a token over its connection cap."""
        self.ttl = max(LEASE_TTL_FLOOR, 3 * self.settings.ws_auth_recheck)

    async def admit(self) -> JSONResponse | None:
        """At the handshake, before the upgrade: the refusal to answer instead, if any."""
        decision = await self.services.ratelimiter.for_ip(self.ip, 1)
        if decision is not None and not decision.allowed:
            return JSONResponse(error_body(rate_limited(decision)), 429, headers=decision.headers())
        limit = self.settings.ws_connections_per_ip
        if not await self._lease(platform_key("ws", "ip", self.ip), limit):
            body = error_body(
                coded(
                    "TOO_MANY_CONNECTIONS",
                    f"Paling banyak {limit} koneksi websocket per alamat IP (at most {limit} "
                    "websocket connections per IP address).",
                    retryAfter=5,
                )
            )
            return JSONResponse(body, 429, headers={"Retry-After": "5"})
        return None

    async def bind(self, token: CallerToken | None) -> None:
        """After ``connection_init``: take the token's place, or mark the connection refused."""
        if self.token is not None and token is not None and token.jti == self.token.jti:
            return
        self.token = token
        if token is None:
            return
        limit = self.settings.ws_connections_per_token
        if not await self._lease(platform_key("ws", "token", token.jti), limit):
            self.refusal = (CLOSE_TOO_MANY, f"too many connections for this token (at most {limit})")

    async def _lease(self, key: str, limit: int) -> bool:
        if limit <= 0:
            return True
        if not await self.leases.acquire(key, self.member, limit, self.ttl):
            return False
        self.held[key] = limit
        return True

    def next_check(self) -> float:
        wait = min(self.settings.ws_auth_recheck, self.ttl / 3)
        if self.token is not None:
            wait = min(wait, self.token.expires_at - time.time())
        return max(0.05, wait)

    async def check(self) -> tuple[str, str] | None:
        """Refresh the places; why the token no longer holds, if it does not."""
        for key, limit in self.held.items():
            await self.leases.acquire(key, self.member, limit, self.ttl)
        token = self.token
        if token is None:
            return None
        if token.expired():
            return EXPIRED
        if await self.services.revocations.is_revoked(token.jti):
            return REVOKED
        return None

    async def release(self) -> None:
        for key in list(self.held):
            await self.leases.release(key, self.member)
        self.held.clear()


def gate_of(context: LaporContext) -> ConnectionGate:
    return context.request.state.ws_gate  # type: ignore[no-any-return]


async def refusal_for(
    schema: GraphQLSchema, context: LaporContext, payload: Mapping[str, Any], running: int
) -> dict[str, Any] | None:
    """Why a subscribe message may not start, as the error to send, or ``None`` to let it run."""
    gate = gate_of(context)
    limit = gate.settings.ws_subscriptions_per_connection
    if running >= limit:
        return _too_many_subscriptions(limit)
    query, variables, name = payload.get("query"), payload.get("variables"), payload.get("operationName")
    client_id = context.actor.client_id if context.actor else None
    document = parsed(query) if isinstance(query, str) else None
    operation = operation_of(document, name if isinstance(name, str) else None) if document else None
    if operation is not None and operation.operation is not OperationType.SUBSCRIPTION:
        decision = await charge(context.request, client_id, 1)
        if decision is not None and not decision.allowed:
            return rate_limited(decision)
        return _subscriptions_only()
    cost, _searches = operation_cost(schema, query, variables, name)
    decision = await charge(context.request, client_id, cost)
    if decision is not None and not decision.allowed:
        return rate_limited(decision)
    return None


def _valid_payload(payload: object) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and isinstance(payload.get("variables"), dict | None)
        and isinstance(payload.get("operationName"), str | None)
    )


class _Gated:
    """What both websocket protocols share: the handshake refused when the gate says so, and a
    watch that ends every subscription when the connection's token expires or is revoked.

    Each protocol supplies ``_end_all`` (its own message shape and operation bookkeeping)."""

    context: LaporContext
    websocket: Any

    async def handle(self) -> None:
        watch = asyncio.create_task(self._watch())
        try:
            await super().handle()  # type: ignore[misc]
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watch

    async def send_message(self, message: Any) -> None:
        refusal = gate_of(self.context).refusal
        if message.get("type") == "connection_ack" and refusal is not None:
            await self.websocket.close(code=refusal[0], reason=refusal[1])
            return
        await super().send_message(message)  # type: ignore[misc]

    async def _watch(self) -> None:
        gate = gate_of(self.context)
        try:
            while True:
                await asyncio.sleep(gate.next_check())
                reason = await gate.check()
                if reason is not None:
                    await self._end_all(_token_ended(reason))
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # the watch must never take the connection down with a traceback
            log.exception("websocket watch failed")

    async def _end_all(self, error: Any) -> None:
        raise NotImplementedError

    async def _close_ended(self) -> None:
        with contextlib.suppress(WebSocketDisconnected, RuntimeError):
            await self.websocket.close(code=CLOSE_UNAUTHENTICATED, reason="access token ended")


class GatedTransportWSHandler(_Gated, BaseGraphQLTransportWSHandler[LaporContext, None]):
    """graphql-transport-ws with the gate: refusals are ``error`` messages for the operation."""

    async def handle_subscribe(self, message: Any) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            payload = message["payload"]
            if not _valid_payload(payload):
                await self.websocket.close(code=4400, reason="Invalid subscribe payload")
                return
            error = await refusal_for(self.schema._schema, self.context, payload, len(self.operations))
            if error is not None:
                await self.send_message({"id": message["id"], "type": "error", "payload": [error]})
                return
        await super().handle_subscribe(message)

    async def _end_all(self, error: dict[str, Any]) -> None:
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
            with contextlib.suppress(WebSocketDisconnected):
                await self.send_message({"id": operation_id, "type": "error", "payload": [error]})
        await self._close_ended()


class GatedLegacyWSHandler(_Gated, BaseGraphQLWSHandler[LaporContext, None]):
    """The older graphql-ws protocol with the same gate (it runs subscriptions only anyway)."""

    async def handle_start(self, message: Any) -> None:
        if self.connection_acknowledged:
            payload = message.get("payload")
            if not _valid_payload(payload):
                await self.websocket.close(code=4400, reason="Invalid start payload")
                return
            running = len([i for i in self.tasks if i != message["id"]])
            error = await refusal_for(self.schema._schema, self.context, payload, running)
            if error is not None:
                await self.send_message({"type": "error", "id": message["id"], "payload": error})
                return
        await super().handle_start(message)

    async def _end_all(self, error: Any) -> None:
        for operation_id in list(self.tasks):
            with contextlib.suppress(WebSocketDisconnected):
                await self.send_message({"type": "error", "id": operation_id, "payload": error})
            await self.cleanup_operation(operation_id)
        await self._close_ended()
