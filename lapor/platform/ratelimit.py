"""Rate limits shared by every API process through Redis, with an in-process stand-in.

Policy (DESIGN.md section 6, issue 4): a fixed window of ``Settings.rate_limit_window`` seconds
(a minute) per bucket. Callers with a token spend from their OAuth client's bucket in the host's
tenant (``LAPOR_RATE_LIMIT_CLIENT`` points); callers without one from their IP's bucket in that
tenant (``LAPOR_RATE_LIMIT_PUBLIC``) *and* from their IP's platform-wide bucket
(``LAPOR_RATE_LIMIT_IP``, issue 9 item 7: the per-tenant bucket alone let one IP spend 300 points
on each of 700 hosts); ``/oauth/*`` from a platform-wide bucket per IP (the public limit) to slow
down secret guessing. A GraphQL request costs its document's points
(``lapor.schema.limits.document_cost``), anything else 1. A request is charged to all its buckets
at once or to none: a refused request spends nothing anywhere.

``Leases`` caps what runs *at once* rather than per minute: concurrent searches per caller and
open websockets per IP and per token (issue 9 items 3 and 6). A lease is a member of a Redis
sorted set scored by its expiry, so a process that dies leaves nothing behind for longer than the
lease's time to live.

Why a fixed window: one Lua script does read, compare and increment atomically on the Redis
server, the window's end is the key's own expiry (no clock of ours involved, so processes with
skewed clocks agree), and ``RateLimit-Reset`` is simply that expiry.

If Redis fails (down, timing out, restarting), the call is answered by the local store instead:
the request is served under the same policy counted per process, a warning is logged at most
once per ``warn_interval``, and Redis is tried again after ``redis_retry_interval`` seconds so an
outage does not add a connection attempt to every request.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lapor.platform.errors import DomainError
from lapor.platform.keys import platform_key, tenant_key
from lapor.settings import Settings

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/token"


@dataclass(frozen=True)
class Hit:
    """What a store answers: whether the points were spent, the bucket's use, its time left."""

    allowed: bool
    used: int
    reset_ms: int


@dataclass(frozen=True)
class Decision:
    """The outcome for one request, and the headers that tell the caller about its bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    """Seconds until the bucket's window ends and its points come back."""
    window: int
    store: str
    """``redis`` or ``local``: which store answered (the fallback is visible to tests)."""

    @property
    def retry_after(self) -> int:
        return max(1, self.reset)

    def headers(self) -> dict[str, str]:
        """IETF draft ``RateLimit-*`` headers, plus ``Retry-After`` when refused (RFC 9110)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class RateLimited(DomainError):
    """A request refused by the rate limiter; GraphQL shows it as ``RATE_LIMITED``."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(
            "RATE_LIMITED",
            f"Too many requests: the limit is {decision.limit} points per {decision.window} seconds; "
            f"retry after {decision.retry_after} seconds.",
        )
        self.retry_after = decision.retry_after


class Store(Protocol):
    async def hit(self, key: str, cost: int, limit: int, window_ms: int) -> Hit: ...


class LocalStore:
    """The per-process stand-in: same fixed windows, in a dictionary with a bound on its size.

    Every window has the same length, so insertion order is expiry order: expired buckets are
    dropped from the front as new ones arrive, and past ``max_keys`` the oldest bucket is forgotten
    (its caller gets a fresh window: lenient, but memory stays bounded under an IP flood).
    """

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def hit(self, key: str, cost: int, limit: int, window_ms: int) -> Hit:
        now = self._clock()
        used, ends = self._buckets.get(key, (0, 0.0))
        if ends <= now:
            used, ends = 0, now + window_ms / 1000
        reset_ms = math.ceil((ends - now) * 1000)
        if used + cost > limit:
            return Hit(False, used, reset_ms)
        if used == 0:
            self._buckets.pop(key, None)
            self._buckets[key] = (cost, ends)
            self._prune(now)
        else:
            self._buckets[key] = (used + cost, ends)
        return Hit(True, used + cost, reset_ms)

    async def hit_all(self, buckets: list[tuple[str, int, int]], window_ms: int) -> list[Hit]:
        """All or nothing, like the Redis script: nothing awaits between the check and the spend."""
        now = self._clock()
        seen = []
        for key, limit, cost in buckets:
            used, ends = self._buckets.get(key, (0, 0.0))
            if ends <= now:
                used, ends = 0, now + window_ms / 1000
            seen.append((used, ends, used + cost <= limit))
        if not all(ok for _u, _e, ok in seen):
            return [Hit(ok, used, math.ceil((ends - now) * 1000)) for used, ends, ok in seen]
        hits = []
        for (key, _limit, cost), (used, ends, _ok) in zip(buckets, seen, strict=True):
            if used == 0:
                self._buckets.pop(key, None)
            self._buckets[key] = (used + cost, ends)
            hits.append(Hit(True, used + cost, math.ceil((ends - now) * 1000)))
        self._prune(now)
        return hits

    def _prune(self, now: float) -> None:
        buckets = self._buckets
        while buckets:
            _key, (_used, ends) = next(iter(buckets.items()))
            if ends > now and len(buckets) <= self.max_keys:
                break
            buckets.popitem(last=False)


# KEYS[1] bucket; ARGV limit, cost, window in ms. Returns {allowed, used, ms left in the window}.
_HIT_SCRIPT = """
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  used = 0
  ttl = window
end
if used + cost > limit then
  return {0, used, ttl}
end
if used == 0 then
  redis.call('SET', KEYS[1], cost, 'PX', window)
else
  redis.call('INCRBY', KEYS[1], cost)
end
return {1, used + cost, ttl}
"""


# KEYS: the buckets; ARGV: window in ms, then limit and cost per key. Spends on every bucket or on
# none. Returns, per key, {allowed, used, ms left}: used after the spend if all allowed, else before.
_HIT_ALL_SCRIPT = """
local window = tonumber(ARGV[1])
local state = {}
local all = 1
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local cost = tonumber(ARGV[2 * i + 1])
  local used = tonumber(redis.call('GET', key) or '0')
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    used = 0
    ttl = window
  end
  local ok = 1
  if used + cost > limit then
    ok = 0
    all = 0
  end
  state[i] = {ok, used, ttl, cost}
end
local out = {}
for i, key in ipairs(KEYS) do
  local s = state[i]
  if all == 1 then
    if s[2] == 0 then
      redis.call('SET', key, s[4], 'PX', window)
    else
      redis.call('INCRBY', key, s[4])
    end
    out[i] = {1, s[2] + s[4], s[3]}
  else
    out[i] = {s[1], s[2], s[3]}
  end
end
return out
"""


class RedisStore:
    """Buckets in Redis: one atomic script per request, the window's end is the key's expiry."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # register_script runs EVALSHA and reloads the script after NOSCRIPT (a restarted Redis).
        self._script = redis.register_script(_HIT_SCRIPT)
        self._all_script = redis.register_script(_HIT_ALL_SCRIPT)

    async def hit(self, key: str, cost: int, limit: int, window_ms: int) -> Hit:
        allowed, used, reset_ms = await self._script(keys=[key], args=[limit, cost, window_ms])
        return Hit(bool(allowed), int(used), int(reset_ms))

    async def hit_all(self, buckets: list[tuple[str, int, int]], window_ms: int) -> list[Hit]:
        """``buckets``: (key, limit, cost) each; spent on all of them or on none."""
        args: list[int] = [window_ms]
        for _key, limit, cost in buckets:
            args += [limit, cost]
        rows = await self._all_script(keys=[key for key, _l, _c in buckets], args=args)
        return [Hit(bool(allowed), int(used), int(reset_ms)) for allowed, used, reset_ms in rows]


class RateLimiter:
    """Decides whether a request may run; Redis when configured, the local store otherwise or
    whenever Redis fails."""

    def __init__(
        self,
        *,
        public_limit: int,
        client_limit: int,
        ip_limit: int = 0,
        window: float = 60.0,
        redis: Redis | None = None,
        owns_redis: bool = False,
        local: LocalStore | None = None,
        redis_retry_interval: float = 1.0,
        warn_interval: float = 60.0,
    ) -> None:
        self.public_limit = public_limit
        self.client_limit = client_limit
        self.ip_limit = ip_limit
        self.window_ms = max(1, round(window * 1000))
        self.local = local or LocalStore()
        self.remote: Store | None = RedisStore(redis) if redis is not None else None
        self._redis = redis
        self._owns_redis = owns_redis
        self.redis_retry_interval = redis_retry_interval
        self.warn_interval = warn_interval
        self._redis_paused_until = 0.0
        self._degraded = False
        self._last_warning = -math.inf
        self._suppressed = 0
        self.leases = Leases(redis, on_failure=self._failed, on_recovery=self._recovered)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """A limiter with a Redis client of its own when ``LAPOR_REDIS_URL`` is set.

        Its own client because its timeouts are short and it retries once without backoff: a
        stalled Redis must cost a request half a second at most before the local store answers,
        whereas other Redis users (revocations, pub/sub) may wait longer.
        """
        redis = None
        if settings.redis_url:
            redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
                retry=Retry(NoBackoff(), 1),
            )
        return cls(
            public_limit=settings.rate_limit_public,
            client_limit=settings.rate_limit_client,
            ip_limit=settings.platform_ip_limit,
            window=settings.rate_limit_window,
            redis=redis,
            owns_redis=True,
        )

    async def for_graphql(
        self, tenant_slug: str, client_id: str | None, ip: str, cost: int
    ) -> Decision | None:
        """Charge a GraphQL request: the client's bucket with a token; without one, the IP's bucket
        in this tenant and the IP's platform-wide bucket, both or neither."""
        if client_id:
            return await self.charge(
                tenant_key(tenant_slug, "rate", "client", client_id), self.client_limit, cost
            )
        return await self.charge_all(
            [
                (tenant_key(tenant_slug, "rate", "ip", ip), self.public_limit),
                (platform_key("rate", "ip", ip), self.ip_limit),
            ],
            cost,
        )

    async def for_ip(self, ip: str, cost: int = 1) -> Decision | None:
        """Charge the IP's platform-wide bucket only: for answers given before the host is known
        (a body too large for ``/graphql``)."""
        return await self.charge(platform_key("rate", "ip", ip), self.ip_limit, cost)

    async def charge_all(self, buckets: list[tuple[str, int]], cost: int) -> Decision | None:
        """Spend ``cost`` from every bucket (key, limit) whose limit is on, or from none.

        The decision shown is the refusing bucket's, else the one with the fewest points left: the
        headers tell the caller about the limit it will meet first.
        """
        live = [(key, limit, max(1, min(cost, limit))) for key, limit in buckets if limit > 0]
        if not live:
            return None
        if len(live) == 1:
            key, limit, _cost = live[0]
            return await self.charge(key, limit, cost)
        hits, store = await self._hit_all(live)
        decisions = [
            Decision(
                allowed=hit.allowed,
                limit=limit,
                remaining=max(0, limit - hit.used),
                reset=math.ceil(hit.reset_ms / 1000),
                window=math.ceil(self.window_ms / 1000),
                store=store,
            )
            for (_key, limit, _cost), hit in zip(live, hits, strict=True)
        ]
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.reset)
        return min(decisions, key=lambda d: (d.remaining, -d.reset))

    async def for_token_endpoint(self, ip: str) -> Decision | None:
        """Charge one ``/oauth/token`` request to the caller's IP, whatever the tenant."""
        return await self.charge(platform_key("rate", "oauth-token", ip), self.public_limit, 1)

    async def charge(self, key: str, limit: int, cost: int) -> Decision | None:
        """Spend ``cost`` points from the bucket ``key``; ``None`` when the limit is off (0).

        A cost above the whole limit is charged as the limit: such a request may run once per
        window rather than never.
        """
        if limit <= 0:
            return None
        cost = max(1, min(cost, limit))
        hit, store = await self._hit(key, cost, limit)
        return Decision(
            allowed=hit.allowed,
            limit=limit,
            remaining=max(0, limit - hit.used),
            reset=math.ceil(hit.reset_ms / 1000),
            window=math.ceil(self.window_ms / 1000),
            store=store,
        )

    async def _hit(self, key: str, cost: int, limit: int) -> tuple[Hit, str]:
        if self._redis_usable():
            try:
                hit = await self.remote.hit(key, cost, limit, self.window_ms)  # type: ignore[union-attr]
            except (RedisError, OSError) as error:  # OSError covers the builtin TimeoutError
                self._failed(error)
            else:
                self._recovered()
                return hit, "redis"
        return await self.local.hit(key, cost, limit, self.window_ms), "local"

    async def _hit_all(self, buckets: list[tuple[str, int, int]]) -> tuple[list[Hit], str]:
        if self._redis_usable() and isinstance(self.remote, RedisStore):
            try:
                hits = await self.remote.hit_all(buckets, self.window_ms)
            except (RedisError, OSError) as error:
                self._failed(error)
            else:
                self._recovered()
                return hits, "redis"
        return await self.local.hit_all(buckets, self.window_ms), "local"

    def _redis_usable(self) -> bool:
        return self.remote is not None and time.monotonic() >= self._redis_paused_until

    def _failed(self, error: BaseException) -> None:
        self._redis_paused_until = time.monotonic() + self.redis_retry_interval
        self._degraded = True
        self._warn(error)

    def _recovered(self) -> None:
        if self._degraded:
            self._degraded = False
            log.warning("rate limits are counted in Redis again")

    def _warn(self, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_warning < self.warn_interval:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more failures since the last warning)" if self._suppressed else ""
        log.warning(
            "Redis unavailable for rate limits, counting in this process instead: %s: %s%s",
            type(error).__name__,
            error,
            more,
        )
        self._last_warning, self._suppressed = now, 0

    async def close(self) -> None:
        if self._redis is not None and self._owns_redis:
            await self._redis.aclose()


# KEYS[1] the holder's set; ARGV member, limit, ttl in ms. Drops expired members, then refreshes the
# member if it holds a lease already, else adds it if fewer than ``limit`` are held. 1 or 0.
_LEASE_SCRIPT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('ZADD', KEYS[1], now_ms + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""


class Leases:
    """At most ``limit`` leases per key at once, across processes (Redis) or in this process.

    ``acquire`` takes or refreshes the lease ``member`` (a random id of the holder), ``release``
    gives it back; an unreleased lease (a process killed) lapses after ``ttl`` seconds, so a
    long-lived holder (a websocket) refreshes it well within that time. When Redis fails the
    in-process table answers, as for rate limits; a lease taken there is released there.
    """

    def __init__(
        self,
        redis: Redis | None,
        *,
        on_failure: Callable[[BaseException], None] | None = None,
        on_recovery: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(_LEASE_SCRIPT) if redis is not None else None
        self._on_failure = on_failure or (lambda _error: None)
        self._on_recovery = on_recovery or (lambda: None)
        self._clock = clock
        self._local: dict[str, dict[str, float]] = {}
        self._where: dict[tuple[str, str], str] = {}
        """Which store holds each lease, so release and refresh go to the same one."""

    async def acquire(self, key: str, member: str, limit: int, ttl: float) -> bool:
        if limit <= 0:
            return True
        where = self._where.get((key, member))
        if self._script is not None and where != "local":
            try:
                ttl_ms = max(1, round(ttl * 1000))
                granted = bool(await self._script(keys=[key], args=[member, limit, ttl_ms]))
            except (RedisError, OSError) as error:
                self._on_failure(error)
            else:
                self._on_recovery()
                if granted:
                    self._where[(key, member)] = "redis"
                return granted
        granted = self._acquire_local(key, member, limit, ttl)
        if granted:
            self._where[(key, member)] = "local"
        return granted

    def _acquire_local(self, key: str, member: str, limit: int, ttl: float) -> bool:
        now = self._clock()
        held = {m: ends for m, ends in self._local.get(key, {}).items() if ends > now}
        if member not in held and len(held) >= limit:
            self._local[key] = held
            return False
        held[member] = now + ttl
        self._local[key] = held
        return True

    async def release(self, key: str, member: str) -> None:
        where = self._where.pop((key, member), None)
        if where == "local":
            held = self._local.get(key, {})
            held.pop(member, None)
            if not held:
                self._local.pop(key, None)
        elif where == "redis" and self._redis is not None:
            try:
                await self._redis.zrem(key, member)
            except (RedisError, OSError) as error:  # it lapses after its ttl anyway
                self._on_failure(error)

    def held_locally(self, key: str) -> int:
        """Leases of ``key`` in the in-process table (tests, diagnostics)."""
        now = self._clock()
        return sum(1 for ends in self._local.get(key, {}).values() if ends > now)


def client_ip(scope: Scope) -> str:
    """The peer address from the ASGI scope.

    ``X-Forwarded-For`` is never read here: uvicorn rewrites the scope's client from it only for
    proxies listed in its ``--forwarded-allow-ips`` (``FORWARDED_ALLOW_IPS``, default 127.0.0.1).
    """
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


OAUTH_PREFIXES = ("/oauth/", "/.well-known/")
LOGIN_COST = 10
"""Points of one login form submission (``POST /oauth/authorize``): it runs a 64 MiB argon2."""


def oauth_cost(method: str, path: str) -> int:
    return LOGIN_COST if method == "POST" and path == "/oauth/authorize" else 1


class TokenEndpointRateLimit:
    """ASGI middleware: every ``/oauth/*`` and ``/.well-known/*`` request is charged to one
    platform-wide bucket per IP (the public limit; a login costs ``LOGIN_COST``), before host
    resolution so unknown hosts pay too; refusals are OAuth-style JSON.

    Issue 9 item 4: only ``/oauth/token`` was limited, so the login form took 100 guesses in 21 s.
    """

    def __init__(self, app: ASGIApp, limiter: Callable[[Scope], RateLimiter | None] | None = None) -> None:
        self.app = app
        self._limiter = limiter or _services_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        charged = scope["type"] == "http" and path.startswith(OAUTH_PREFIXES)
        limiter = self._limiter(scope) if charged else None
        decision = None
        if limiter is not None:
            decision = await limiter.charge(
                platform_key("rate", "oauth-token", client_ip(scope)),
                limiter.public_limit,
                oauth_cost(scope.get("method", "GET"), path),
            )
        if decision is None:
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            await _send_json(send, 429, oauth_refusal(decision), decision.headers())
            return
        await self.app(scope, receive, _with_headers(send, decision.headers()))


def oauth_refusal(decision: Decision) -> dict[str, object]:
    """RFC 6749 section 5.2 shape (``error``, ``error_description``) for a refused token request."""
    return {
        "error": "rate_limited",
        "error_description": f"Terlalu banyak permintaan dari alamat ini; coba lagi setelah "
        f"{decision.retry_after} detik. (Too many requests from this address; retry after "
        f"{decision.retry_after} seconds.)",
    }


def graphql_refusal(decision: Decision) -> dict[str, object]:
    """The GraphQL-shaped 429 body, for refusals outside an execution result."""
    error = RateLimited(decision)
    return {
        "data": None,
        "errors": [
            {"message": error.message, "extensions": {"code": error.code, "retryAfter": error.retry_after}}
        ],
    }


def _services_limiter(scope: Scope) -> RateLimiter | None:
    services = getattr(scope["app"].state, "services", None)
    return getattr(services, "ratelimiter", None)


def _with_headers(send: Send, headers: dict[str, str]) -> Callable[[Message], Awaitable[None]]:
    extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending


async def _send_json(send: Send, status: int, body: dict[str, object], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
