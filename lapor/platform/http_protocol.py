"""uvicorn's h11 protocol with the limits a public server needs (issue 9, item 12).

uvicorn bounds an idle keep-alive connection (``timeout_keep_alive``) and nothing else: a client
that sends a request's headers a byte at a time, or never finishes them, held the connection
for ever, and httptools (uvicorn's default parser) accepted 1 MiB of headers. This protocol,
which ``lapor serve`` runs (``--http lapor.platform.http_protocol:LaporH11Protocol`` for a plain
uvicorn), adds:

* a header deadline: a request line and headers must be in ``LAPOR_HEADER_TIMEOUT`` seconds
  after the connection opens, or after the first byte of a later request on a kept-alive
  connection, else 408 and the connection closes (silently if not a byte came: an idle
  connection; between requests uvicorn's ``timeout_keep_alive`` closes idle ones);
* a header size limit: more than ``LAPOR_MAX_HEADER_BYTES`` (uvicorn's
  ``h11_max_incomplete_event_size``) before the end of the headers is answered 431 and closed;
* no waiting for a body nobody reads: when a response is complete while the client is still
  sending the request's body (a 404, 413 or 429 answered before reading it), the connection is
  closed instead of being kept open for a client that may dribble the rest for ever.

The body itself is bounded one level up, by ``lapor.platform.client_watch.BodyReadTimeout``.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE  # what uvicorn itself falls back on
from uvicorn.protocols.http.h11_impl import H11Protocol

from lapor.settings import Settings

log = logging.getLogger(__name__)


@cache
def _header_timeout() -> float:
    """Read once per process: uvicorn builds a protocol per connection, from its own config only."""
    return Settings.from_env().header_timeout


def _plain_response(status: int, reason: str, message: str) -> bytes:
    body = message.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class LaporH11Protocol(H11Protocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._header_timer is None:
            self._arm_header_timer()  # the first bytes of a request after a kept-alive pause
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self._disarm_header_timer()
            log.info("request headers over %d bytes from %s: 431", self._max_head(), self.client)
            self._close_with(
                431,
                "Request Header Fields Too Large",
                "Kepala permintaan terlalu besar. (Request headers too large.)",
            )
            return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in (or the protocol moved on)
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        unread_body = self.conn.their_state is h11.SEND_BODY
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if unread_body:
            # Answered without reading the body: do not wait for the rest of it.
            self.conn.send(h11.ConnectionClosed())
            self.transport.close()

    def _max_head(self) -> int:
        return self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE

    def _head_too_large(self, data: bytes) -> bool:
        limit = self._max_head()
        buffered, _closed = self.conn.trailing_data
        pending = buffered + data
        if len(pending) <= limit:
            return False
        ends = [i for i in (pending.find(b"\r\n\r\n"), pending.find(b"\n\n")) if i >= 0]
        return not ends or min(ends) > limit

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        timeout = _header_timeout()
        if timeout > 0:
            self._header_timer = self.loop.call_later(timeout, self._header_timed_out)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if not self.conn.trailing_data[0]:  # not a byte of a request: just an idle connection
            self.conn.send(h11.ConnectionClosed())
            self.transport.close()
            return
        self._close_with(
            408,
            "Request Timeout",
            "Kepala permintaan tidak selesai dikirim tepat waktu. (Request headers not received in time.)",
        )

    def _close_with(self, status: int, reason: str, message: str) -> None:
        """Answer outside h11 (no request was parsed, so h11 would refuse a response) and close."""
        if not self.transport.is_closing():
            self.transport.write(_plain_response(status, reason, message))
            self.transport.close()
