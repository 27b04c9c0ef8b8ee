"""ASGI middleware that bound what a slow or vanished client can hold (issue 9, items 3 and 12).

``BodyReadTimeout``: a request has ``LAPOR_BODY_TIMEOUT`` seconds, from when its headers are in,
to deliver all of its body. A client dribbling a byte a second (slow loris) is
answered 408 and the connection closed; without this a request body could be held open for ever.
Headers are bounded one level down, by the HTTP protocol (``lapor.platform.http_protocol``).

``CancelOnDisconnect``: once a request's body is in, the client's disconnect is watched; if it
comes before the response is complete, whatever registered with ``on_client_gone`` is told: the
request's read transaction (``RequestDatabase``) cancels its running statement in PostgreSQL and
refuses further reads, so the rest of the request ends at once. Before, a search kept running,
holding a pooled connection, after the caller had given up. The request itself is not cancelled:
a mutation half-way through its transaction commits or rolls back as it would have, and what it
publishes after committing is still published.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Watch:
    __slots__ = ("callbacks", "gone")

    def __init__(self) -> None:
        self.gone = False
        self.callbacks: list[Callable[[], None]] = []

    def left(self) -> None:
        self.gone = True
        callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            callback()


_current: ContextVar[_Watch | None] = ContextVar("lapor_client_watch", default=None)


def client_gone() -> bool:
    """Whether the HTTP client of the current request has disconnected before its answer."""
    watch = _current.get()
    return watch is not None and watch.gone


def on_client_gone(callback: Callable[[], None]) -> bool:
    """Call ``callback`` (once, synchronously) if the current request's client disconnects before
    its answer is complete. False outside a watched HTTP request (websockets, the worker)."""
    watch = _current.get()
    if watch is None:
        return False
    if watch.gone:
        callback()
    else:
        watch.callbacks.append(callback)
    return True


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = _Watch()
        token = _current.set(watch)
        try:
            await _watched(self.app, watch, scope, receive, send)
        finally:
            _current.reset(token)


async def _watched(app: ASGIApp, watch: _Watch, scope: Scope, receive: Receive, send: Send) -> None:
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[Message] = loop.create_future()
    """The first message after the body: ``http.disconnect`` (client gone or response done)."""
    body_done = False
    response_done = False
    listener: asyncio.Task[None] | None = None

    async def listen() -> None:
        message = await receive()
        if not ended.done():
            ended.set_result(message)
        if message["type"] == "http.disconnect" and not response_done:
            watch.left()  # nobody will read the answer: stop the work it needs

    async def app_receive() -> Message:
        nonlocal body_done, listener
        if body_done:  # the listener owns the server's receive now; share what it gets
            return await asyncio.shield(ended)
        message = await receive()
        if message["type"] == "http.disconnect":
            if not ended.done():
                ended.set_result(message)
            return message
        if not message.get("more_body", False):
            body_done = True
            listener = asyncio.ensure_future(listen())
        return message

    async def app_send(message: Message) -> None:
        nonlocal response_done
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            response_done = True
        await send(message)

    try:
        await app(scope, app_receive, app_send)
    finally:
        if listener is not None and not listener.done():
            listener.cancel()


class _BodyTimedOut(BaseException):
    """Not an ``Exception``: body parsers catch those and would answer 400 instead of 408."""


class BodyReadTimeout:
    def __init__(self, app: ASGIApp, timeout: float | None = None) -> None:
        self.app = app
        self.timeout = timeout

    def _seconds(self, scope: Scope) -> float:
        if self.timeout is not None:
            return self.timeout
        services = getattr(scope["app"].state, "services", None) if "app" in scope else None
        settings = getattr(services, "settings", None)
        return float(getattr(settings, "body_timeout", 15.0))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seconds = self._seconds(scope)
        if seconds <= 0:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise _BodyTimedOut from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except _BodyTimedOut:
            if not started:
                await _refuse_slow_body(send, seconds)


async def _refuse_slow_body(send: Send, seconds: float) -> None:
    message = (
        f"Isi permintaan tidak selesai dikirim dalam {seconds:g} detik. "
        f"(The request body was not received within {seconds:g} seconds.)"
    )
    body = json.dumps({"error": {"code": "REQUEST_TIMEOUT", "message": message}}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})
