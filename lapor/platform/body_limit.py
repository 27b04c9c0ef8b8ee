"""Refuse request bodies larger than the platform accepts, before anyone parses them.

A GraphQL document, an OAuth form or a complaint's text fits in a few kilobytes; attachments are
metadata only. A declared ``Content-Length`` over the limit gets 413 at once; a body that turns
out longer while streaming (chunked uploads) is cut off with the same answer.

On ``/graphql`` the answer is a GraphQL error body (``{"data": null, "errors": [{"message",
"extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}``), as the README promises for every error there,
and it carries ``RateLimit-*`` headers: this middleware runs before the host is known, so it
charges one point to the IP's platform-wide bucket (issue 9 item 17). Elsewhere it stays
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lapor.platform.ratelimit import RateLimiter, client_ip

MAX_BODY_BYTES = 256 * 1024
GRAPHQL_PATH = "/graphql"


class _TooLarge(BaseException):
    """Not an ``Exception``: body parsers catch those and would answer 400 instead of 413."""


def _services_limiter(scope: Scope) -> RateLimiter | None:
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    return getattr(services, "ratelimiter", None)


class BodySizeLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        limiter: Callable[[Scope], RateLimiter | None] = _services_limiter,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._refuse(scope, send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        message = (
            f"Isi permintaan paling banyak {self.max_bytes} bita "
            f"(request bodies are limited to {self.max_bytes} bytes)"
        )
        extra: dict[str, str] = {}
        payload: dict[str, object]
        if scope.get("path") == GRAPHQL_PATH:
            payload = {
                "data": None,
                "errors": [{"message": message, "extensions": {"code": "PAYLOAD_TOO_LARGE"}}],
            }
            limiter = self._limiter(scope)
            decision = await limiter.for_ip(client_ip(scope)) if limiter is not None else None
            if decision is not None:
                extra = decision.headers()
        else:
            payload = {"error": {"code": "PAYLOAD_TOO_LARGE", "message": message}}
        body = json.dumps(payload).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
