"""What bench/dos.py measures with and talks through: meters of the server process and of the
PostgreSQL backends serving it, fresh source addresses, a graphql-transport-ws client and raw
sockets for slow and oversized requests.

Why sample from a thread: the attacks run on this process's event loop, and a sampler on that
loop would miss the peaks it is there to see (the loop is busiest exactly then).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import psycopg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

MIB = 2**20
SEARCH_MARKERS = ("tsquery", "tsvector", "@@")


class Addresses:
    """Fresh loopback source addresses (``127.X.Y.Z``): every bucket a measurement reads starts
    empty, and one item's spending never refuses another's requests. Linux routes all of
    127.0.0.0/8 to the loopback interface, so a client can bind any of them. ``X`` is random per
    run: a rerun within a rate-limit window does not find the last run's buckets in Redis."""

    def __init__(self) -> None:
        self._second = random.randrange(10, 250)
        self._counter = itertools.count(1)

    def fresh(self) -> str:
        n = next(self._counter)
        return f"127.{self._second}.{n // 250}.{n % 250 + 1}"


def http_client(port: int, address: str, timeout: float = 30.0, **kwargs: Any) -> httpx.AsyncClient:
    """An HTTP client whose connections come from ``address``; no proxies, no retries."""
    transport = httpx.AsyncHTTPTransport(local_address=address, retries=0)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", transport=transport, timeout=timeout, limits=limits,
        trust_env=False, **kwargs,
    )  # fmt: skip


# --- meters ---------------------------------------------------------------------------------


@dataclass
class Window:
    """What the sampler saw between ``start`` and ``stop``."""

    seconds: float = 0.0
    server_cpu: float = 0.0
    """CPU seconds (user + system) of the server process."""
    db_cpu: float = 0.0
    """CPU seconds of the PostgreSQL backends connected to the scratch database."""
    rss_before: float = 0.0
    rss_peak: float = 0.0
    rss_after: float = 0.0
    """MiB."""
    search_longest: float = 0.0
    """Longest time a search statement was seen running (pg_stat_activity)."""
    search_active_peak: int = 0
    """Most search statements seen running at once."""
    backends_peak: int = 0
    """Most backends seen connected to the scratch database (pooled connections)."""


@dataclass
class _Open:
    window: Window
    started: float
    cpu0: float
    db_first: dict[int, float] = field(default_factory=dict)


class Sampler:
    """Samples the server's RSS and CPU every ``interval`` seconds and the database backends'
    CPU and running statements every other sample, in a thread, into every open window.

    Backend CPU is read from ``/proc/<pid>/stat`` (psutil) for each backend that
    ``pg_stat_activity`` lists for the scratch database; a backend that appears during a window
    counts from zero (its connection setup is work the attack caused), one that disappears keeps
    its last reading. Parallel workers count too (a sequential scan runs in three processes); a
    worker's CPU after its last sample is lost, up to one interval per worker. pg_stat_statements
    is not loaded on this shared server, so CPU is the figure.
    """

    def __init__(self, server_pid: int, admin_url: str, database: str, interval: float = 0.02) -> None:
        self.server = psutil.Process(server_pid)
        self.database = database
        self.interval = interval
        self._conn = psycopg.connect(admin_url, autocommit=True)
        self._lock = threading.Lock()
        self._open: list[_Open] = []
        self._db_last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dos-sampler", daemon=True)
        self._thread.start()

    def _server_cpu(self) -> float:
        times = self.server.cpu_times()
        return times.user + times.system

    def _rss(self) -> float:
        return self.server.memory_info().rss / MIB

    def _db_sample(self) -> tuple[dict[int, float], float, int, int]:
        rows = self._conn.execute(
            "SELECT pid, backend_type, state, extract(epoch FROM now() - query_start)::float8, query "
            "FROM pg_stat_activity WHERE datname = %s "
            "AND backend_type IN ('client backend', 'parallel worker')",
            (self.database,),
        ).fetchall()
        cpu: dict[int, float] = {}
        longest, active, backends = 0.0, 0, 0
        for pid, backend_type, state, running, query in rows:
            try:
                times = psutil.Process(pid).cpu_times()
                cpu[pid] = times.user + times.system
            except psutil.Error:
                continue
            if backend_type != "client backend":
                continue
            backends += 1
            if state == "active" and any(marker in (query or "") for marker in SEARCH_MARKERS):
                active += 1
                longest = max(longest, running or 0.0)
        return cpu, longest, active, backends

    def _run(self) -> None:
        tick = 0
        while not self._stop.is_set():
            tick += 1
            try:
                rss = self._rss()
                sample = self._db_sample() if tick % 2 == 0 else None
            except (psutil.Error, psycopg.Error):
                break
            with self._lock:
                if sample is not None:
                    cpu, longest, active, backends = sample
                    self._db_last.update(cpu)
                for window in self._open:
                    w = window.window
                    w.rss_peak = max(w.rss_peak, rss)
                    if sample is not None:
                        w.search_longest = max(w.search_longest, longest)
                        w.search_active_peak = max(w.search_active_peak, active)
                        w.backends_peak = max(w.backends_peak, backends)
                        for pid in cpu:
                            window.db_first.setdefault(pid, 0.0)
            time.sleep(self.interval)

    def start(self) -> _Open:
        with self._lock:
            rss = self._rss()
            window = _Open(Window(rss_before=rss, rss_peak=rss), time.perf_counter(), self._server_cpu())
            window.db_first = dict(self._db_last)
            self._open.append(window)
        return window

    def stop(self, handle: _Open) -> Window:
        time.sleep(self.interval * 3)  # one more database sample after the last answer
        with self._lock:
            self._open.remove(handle)
            w = handle.window
            w.seconds = time.perf_counter() - handle.started
            w.server_cpu = self._server_cpu() - handle.cpu0
            w.db_cpu = sum(self._db_last.get(pid, first) - first for pid, first in handle.db_first.items())
            w.rss_after = self._rss()
            w.rss_peak = max(w.rss_peak, w.rss_after)
        return w

    @contextmanager
    def window(self) -> Iterator[Window]:
        """The figures of the ``with`` block, filled in when it ends."""
        handle = self.start()
        try:
            yield handle.window
        finally:
            self.stop(handle)

    def running_searches(self, marker: str = "") -> list[tuple[int, float]]:
        """(pid, seconds running) of search statements (containing ``marker``) running now."""
        rows = self._conn.execute(
            "SELECT pid, extract(epoch FROM now() - query_start)::float8, query FROM pg_stat_activity "
            "WHERE datname = %s AND state = 'active' AND backend_type = 'client backend'",
            (self.database,),
        ).fetchall()
        return [
            (pid, secs or 0.0)
            for pid, secs, query in rows
            if any(m in (query or "") for m in SEARCH_MARKERS) and marker in (query or "")
        ]

    def cancel(self, pids: list[int]) -> None:
        for pid in pids:
            self._conn.execute("SELECT pg_cancel_backend(%s)", (pid,))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._conn.close()


# --- graphql-transport-ws -------------------------------------------------------------------


class WsClosed(Exception):
    """The server closed the websocket (``code``, ``reason``)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code} {reason}")
        self.code, self.reason = code, reason


@dataclass
class WsOutcome:
    """Per operation id: ``next`` payloads, the ``error`` payload, whether it completed."""

    nexts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    completed: set[str] = field(default_factory=set)
    closed: WsClosed | None = None


class GraphQLWs:
    """A minimal graphql-transport-ws client over one connection from a given source address."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.outcome = WsOutcome()
        self._reader: asyncio.Task[None] | None = None
        self.events = asyncio.Event()

    @classmethod
    async def open(
        cls, port: int, host: str, address: str, payload: dict[str, Any] | None = None, within: float = 5.0
    ) -> GraphQLWs:
        """Connect and wait for ``connection_ack``; raises ``WsClosed`` if the server refuses."""
        try:
            ws = await connect(
                f"ws://{host}:{port}/graphql", host="127.0.0.1", port=port, local_addr=(address, 0),
                subprotocols=["graphql-transport-ws"], proxy=None, open_timeout=within,
                ping_interval=None, max_size=16 * MIB, compression=None,
            )  # fmt: skip
        except ConnectionClosed as closed:
            raise WsClosed(closed.rcvd.code if closed.rcvd else None, "during the handshake") from None
        except Exception as error:  # InvalidStatus (HTTP 429/403 instead of 101) and the like
            raise WsClosed(None, f"{type(error).__name__}: {error}") from None
        client = cls(ws)
        try:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
            message = json.loads(await asyncio.wait_for(ws.recv(), within))
        except ConnectionClosed as closed:
            raise WsClosed(
                closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""
            ) from None
        except TimeoutError:
            await ws.close()
            raise WsClosed(None, "no connection_ack") from None
        if message.get("type") != "connection_ack":
            await ws.close()
            raise WsClosed(None, f"answered {message.get('type')} instead of connection_ack")
        client._reader = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        out = self.outcome
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                kind, op = message.get("type"), message.get("id")
                if kind == "next":
                    out.nexts.setdefault(op, []).append(message.get("payload") or {})
                elif kind == "error":
                    out.errors[op] = message.get("payload")
                elif kind == "complete":
                    out.completed.add(op)
                elif kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                self.events.set()
        except ConnectionClosed as closed:
            out.closed = WsClosed(
                closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""
            )
        else:
            rcvd = self.ws.close_frame if hasattr(self.ws, "close_frame") else None
            out.closed = WsClosed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")
        self.events.set()

    async def subscribe(self, op: str, query: str, variables: dict[str, Any] | None = None) -> bool:
        """Send one ``subscribe``; False if the connection is already closed."""
        message = {"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
        try:
            await self.ws.send(json.dumps(message))
        except ConnectionClosed:
            return False
        return True

    def answered(self, op: str) -> bool:
        out = self.outcome
        return op in out.errors or op in out.completed

    async def wait(self, ops: list[str], within: float) -> None:
        """Until every op is answered (error or complete), the socket closes, or ``within`` s pass."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self.outcome.closed is None:
            if all(self.answered(op) for op in ops):
                return
            self.events.clear()
            try:
                await asyncio.wait_for(self.events.wait(), max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


def error_codes(payload: Any) -> list[str]:
    """``extensions.code`` of every error in a GraphQL answer or a ws ``error`` payload."""
    errors = payload if isinstance(payload, list) else (payload or {}).get("errors") or []
    codes = []
    for error in errors:
        code = ((error or {}).get("extensions") or {}).get("code")
        codes.append(str(code) if code else f"no code: {str((error or {}).get('message'))[:60]!r}")
    return codes


# --- raw sockets: slow and oversized requests -------------------------------------------------


@dataclass
class Slow:
    """How one raw connection ended: when the server cut it, and what it answered first."""

    cut_after: float | None = None
    """Seconds from connect to the server closing the connection; None: still open at the end."""
    status: int | None = None
    sent: int = 0
    note: str = ""


async def _watch_close(reader: asyncio.StreamReader, result: Slow, started: float) -> None:
    data = b""
    while True:
        try:
            chunk = await reader.read(65536)
        except (ConnectionError, OSError) as error:  # a reset after the answer is still a cut
            result.note = result.note or f"{type(error).__name__} while reading"
            break
        if not chunk:
            break
        data += chunk
        if result.status is None and data.startswith(b"HTTP/1.") and b" " in data[:12]:
            with contextlib.suppress(ValueError):
                result.status = int(data[9:12])
    result.cut_after = time.monotonic() - started


async def dribble(
    port: int, address: str, head: bytes, drip: bytes, observe: float, every: float = 0.5
) -> Slow:
    """Send ``head`` then one byte of ``drip`` every ``every`` seconds (repeating ``drip``) until
    the server closes the connection or ``observe`` seconds pass."""
    result = Slow()
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    except OSError as error:
        result.note, result.cut_after = f"connect failed: {error}", 0.0
        return result
    watcher = asyncio.create_task(_watch_close(reader, result, started))
    try:
        writer.write(head)
        await writer.drain()
        result.sent = len(head)
        position = 0
        while time.monotonic() - started < observe and not watcher.done():
            await asyncio.wait({watcher}, timeout=every)
            if watcher.done():
                break
            writer.write(drip[position % len(drip) : position % len(drip) + 1])
            await writer.drain()
            result.sent += 1
            position += 1
    except (ConnectionError, OSError) as error:
        if result.cut_after is None:
            result.cut_after = time.monotonic() - started
        result.note = type(error).__name__
    finally:
        if not watcher.done():
            watcher.cancel()
        writer.close()
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await asyncio.wait_for(writer.wait_closed(), 1)
    return result


async def oversized(port: int, address: str, request: bytes, within: float) -> Slow:
    """Send a whole (large) request at once and read what comes back within ``within`` seconds."""
    result = Slow()
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    watcher = asyncio.create_task(_watch_close(reader, result, started))
    try:
        for offset in range(0, len(request), 65536):
            writer.write(request[offset : offset + 65536])
            await writer.drain()
            result.sent = offset + min(65536, len(request) - offset)
    except (ConnectionError, OSError) as error:
        result.note = f"{type(error).__name__} after {result.sent} bytes sent"
    try:
        await asyncio.wait_for(asyncio.shield(watcher), within)
    except TimeoutError:
        watcher.cancel()
    writer.close()
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        await asyncio.wait_for(writer.wait_closed(), 1)
    return result
