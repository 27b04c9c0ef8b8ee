"""Settings: one frozen object built once from ``LAPOR_*`` environment variables.

Nothing below the CLI and app factories reads ``os.environ``; they receive a ``Settings``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


class SettingsError(ValueError):
    """A ``LAPOR_*`` variable holds a value we cannot use."""


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _proxies(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks (``*``: any peer, only behind a proxy that is the
    sole way in); blanks dropped."""
    items = tuple(item.strip() for item in (env.get(name) or "").split(",") if item.strip())
    for item in items:
        if item == "*":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must list IP addresses or networks, got {item!r}") from None
    return items


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the platform can be told from outside, with defaults that work on a laptop."""

    database_url: str | None = None
    """``LAPOR_DATABASE_URL``; ``None`` means: start the embedded PostgreSQL (pgserver)."""
    redis_url: str | None = None
    """``LAPOR_REDIS_URL``; ``None`` means: in-process stand-ins for rate limits, caches, pub/sub."""
    base_domain: str = "localhost"
    """``LAPOR_BASE_DOMAIN``: tenant ``ttu`` answers on ``ttu.<base_domain>``."""
    data_dir: Path = field(default_factory=lambda: Path(".lapor"))
    """``LAPOR_DATA_DIR``: where the embedded PostgreSQL keeps its files."""
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_prepare_threshold: int | None = 5
    """``LAPOR_DB_PREPARE_THRESHOLD``; set to ``none`` behind pgbouncer < 1.21 in transaction mode."""
    migrate_workers: int = 8
    host_cache_ttl: float = 30.0
    """Seconds a resolved host is trusted without Redis invalidation (cross-process changes)."""
    rate_limit_unknown_host: int = 60
    """``LAPOR_RATE_LIMIT_UNKNOWN_HOST``: requests a minute per client IP for hosts that are not a
    cached tenant (each may cost a registry query, and answers 404 at best); 0 turns it off."""
    db_timeout_public: float = 2.0
    """``LAPOR_DB_TIMEOUT_PUBLIC``: seconds one SQL statement may run for a caller without a token
    (``statement_timeout`` of the tenant transaction); 0: no limit."""
    db_timeout_staff: float = 15.0
    """``LAPOR_DB_TIMEOUT_STAFF``: the same for authenticated staff and OAuth clients (exports)."""
    db_timeout_background: float = 300.0
    """``LAPOR_DB_TIMEOUT_BACKGROUND``: the same for work outside a request (worker, CLI)."""
    trusted_proxies: tuple[str, ...] = ()
    """``LAPOR_TRUSTED_PROXIES``: comma-separated proxy addresses or networks whose
    ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are believed; empty (the default): none, the peer
    address is the client (rate limits are per peer)."""
    header_timeout: float = 10.0
    """``LAPOR_HEADER_TIMEOUT``: seconds a connection has to deliver a request's headers."""
    body_timeout: float = 15.0
    """``LAPOR_BODY_TIMEOUT``: seconds a request has to deliver its whole body (then 408)."""
    keep_alive_timeout: int = 5
    """``LAPOR_KEEP_ALIVE_TIMEOUT``: seconds an idle keep-alive connection stays open."""
    max_header_bytes: int = 16 * 1024
    """``LAPOR_MAX_HEADER_BYTES``: request line and headers together; a longer request is refused."""
    max_connections: int = 1000
    """``LAPOR_MAX_CONNECTIONS``: open connections and running requests per worker process
    before new requests get 503 (uvicorn's ``limit_concurrency``); 0: no cap."""
    log_level: str = "INFO"
    secret_key: str | None = None
    """``LAPOR_SECRET_KEY``: encrypts reporter contact data and keys fingerprints. Unset: a key
    file under the data dir is created once (fine for one machine, not for several)."""
    issuer: str | None = None
    """``LAPOR_ISSUER``: the OAuth issuer URL (default ``http(s)://<base domain>``)."""
    oauth_allow_http: bool | None = None
    """``LAPOR_OAUTH_ALLOW_HTTP``: OAuth over plain http (default: only for *.localhost and *.test)."""
    rate_limit_public: int = 300
    """``LAPOR_RATE_LIMIT_PUBLIC``: points a minute per client IP and tenant for callers without a
    token, and per IP for ``/oauth/token``; 0 turns the limit off."""
    rate_limit_client: int = 5000
    """``LAPOR_RATE_LIMIT_CLIENT``: points a minute per OAuth client and tenant; 0 turns it off."""
    rate_limit_window: float = 60.0
    """Seconds per rate-limit window (not an environment variable: tests shorten it)."""
    rate_limit_ip: int | None = None
    """``LAPOR_RATE_LIMIT_IP``: points a minute per client IP across every tenant host, for callers
    without a token (on top of the per-tenant bucket: one IP cannot multiply its budget by the
    number of tenants); 0 turns it off. Unset: three times ``rate_limit_public`` (so turning the
    public limit off, or raising it for a load test, moves this one along)."""
    max_concurrent_searches: int = 2
    """``LAPOR_MAX_CONCURRENT_SEARCHES``: full-text searches one caller (IP, or OAuth client) may
    have running at once, across processes; 0 turns the cap off."""
    ws_connections_per_ip: int = 10
    """``LAPOR_WS_CONNECTIONS_PER_IP``: open GraphQL websockets per client IP; 0: no cap."""
    ws_connections_per_token: int = 5
    """``LAPOR_WS_CONNECTIONS_PER_TOKEN``: open GraphQL websockets per access token; 0: no cap."""
    ws_subscriptions_per_connection: int = 10
    """``LAPOR_WS_SUBSCRIPTIONS_PER_CONNECTION``: subscriptions running on one websocket."""
    ws_auth_recheck: float = 30.0
    """``LAPOR_WS_AUTH_RECHECK``: seconds between checks that a subscription's token is still
    valid (revoked tokens end it within this time; expiry ends it at the token's ``exp``)."""
    graphiql: bool | None = None
    """``LAPOR_GRAPHIQL``: serve GraphiQL on GET /graphql (default: only in development, a base
    domain of localhost or *.test)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        prepare_raw = env.get("LAPOR_DB_PREPARE_THRESHOLD", "")
        if prepare_raw.strip().lower() in {"none", "off", "disable"}:
            prepare_threshold: int | None = None
        else:
            prepare_threshold = _int(env, "LAPOR_DB_PREPARE_THRESHOLD", 5)
        base_domain = env.get("LAPOR_BASE_DOMAIN", "localhost").strip().lower().strip(".")
        if not base_domain:
            raise SettingsError("LAPOR_BASE_DOMAIN must not be empty")
        return cls(
            database_url=env.get("LAPOR_DATABASE_URL") or None,
            redis_url=env.get("LAPOR_REDIS_URL") or None,
            base_domain=base_domain,
            data_dir=Path(env.get("LAPOR_DATA_DIR") or ".lapor").expanduser(),
            db_pool_size=_int(env, "LAPOR_DB_POOL_SIZE", 10, minimum=1),
            db_max_overflow=_int(env, "LAPOR_DB_MAX_OVERFLOW", 10),
            db_prepare_threshold=prepare_threshold,
            migrate_workers=_int(env, "LAPOR_MIGRATE_WORKERS", 8, minimum=1),
            host_cache_ttl=_float(env, "LAPOR_HOST_CACHE_TTL", 30.0),
            rate_limit_unknown_host=_int(env, "LAPOR_RATE_LIMIT_UNKNOWN_HOST", 60),
            db_timeout_public=_float(env, "LAPOR_DB_TIMEOUT_PUBLIC", 2.0),
            db_timeout_staff=_float(env, "LAPOR_DB_TIMEOUT_STAFF", 15.0),
            db_timeout_background=_float(env, "LAPOR_DB_TIMEOUT_BACKGROUND", 300.0),
            trusted_proxies=_proxies(env, "LAPOR_TRUSTED_PROXIES"),
            header_timeout=_float(env, "LAPOR_HEADER_TIMEOUT", 10.0),
            body_timeout=_float(env, "LAPOR_BODY_TIMEOUT", 15.0),
            keep_alive_timeout=_int(env, "LAPOR_KEEP_ALIVE_TIMEOUT", 5, minimum=1),
            max_header_bytes=_int(env, "LAPOR_MAX_HEADER_BYTES", 16 * 1024, minimum=1024),
            max_connections=_int(env, "LAPOR_MAX_CONNECTIONS", 1000),
            log_level=(env.get("LAPOR_LOG_LEVEL") or "INFO").upper(),
            secret_key=env.get("LAPOR_SECRET_KEY") or None,
            issuer=(env.get("LAPOR_ISSUER") or "").rstrip("/") or None,
            oauth_allow_http=_bool(env, "LAPOR_OAUTH_ALLOW_HTTP", False)
            if env.get("LAPOR_OAUTH_ALLOW_HTTP")
            else None,
            rate_limit_public=_int(env, "LAPOR_RATE_LIMIT_PUBLIC", 300),
            rate_limit_client=_int(env, "LAPOR_RATE_LIMIT_CLIENT", 5000),
            rate_limit_ip=_int(env, "LAPOR_RATE_LIMIT_IP", 0) if env.get("LAPOR_RATE_LIMIT_IP") else None,
            max_concurrent_searches=_int(env, "LAPOR_MAX_CONCURRENT_SEARCHES", 2),
            ws_connections_per_ip=_int(env, "LAPOR_WS_CONNECTIONS_PER_IP", 10),
            ws_connections_per_token=_int(env, "LAPOR_WS_CONNECTIONS_PER_TOKEN", 5),
            ws_subscriptions_per_connection=_int(env, "LAPOR_WS_SUBSCRIPTIONS_PER_CONNECTION", 10, minimum=1),
            ws_auth_recheck=_float(env, "LAPOR_WS_AUTH_RECHECK", 30.0),
            graphiql=_bool(env, "LAPOR_GRAPHIQL", False) if env.get("LAPOR_GRAPHIQL") else None,
        )

    @property
    def allows_http_oauth(self) -> bool:
        if self.oauth_allow_http is not None:
            return self.oauth_allow_http
        domain = self.base_domain
        return domain in ("localhost", "test") or domain.endswith((".localhost", ".test"))

    @property
    def platform_ip_limit(self) -> int:
        """The platform-wide points a minute per IP (``rate_limit_ip``, default 3 x public)."""
        return self.rate_limit_ip if self.rate_limit_ip is not None else 3 * self.rate_limit_public

    @property
    def graphiql_enabled(self) -> bool:
        """GraphiQL is a development tool: on by default only where OAuth over http is (localhost,
        *.test), unless ``LAPOR_GRAPHIQL`` says otherwise."""
        if self.graphiql is not None:
            return self.graphiql
        domain = self.base_domain
        return domain in ("localhost", "test") or domain.endswith((".localhost", ".test"))

    @property
    def oauth_issuer(self) -> str:
        if self.issuer:
            return self.issuer
        return f"{'http' if self.allows_http_oauth else 'https'}://{self.base_domain}"

    def with_database(self, url: str) -> Settings:
        return replace(self, database_url=url)


# Documented in README; kept here so `lapor --help` and the README cannot drift apart.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "LAPOR_DATABASE_URL": "PostgreSQL URL (postgresql://user@host/db). Unset: embedded PostgreSQL.",
    "LAPOR_REDIS_URL": "Redis URL (redis://host:6379/0). Unset: in-process stand-ins.",
    "LAPOR_BASE_DOMAIN": "Tenants answer on <slug>.<base domain>. Default: localhost.",
    "LAPOR_DATA_DIR": "Directory of the embedded PostgreSQL. Default: ./.lapor.",
    "LAPOR_DB_POOL_SIZE": "Connections kept per API process. Default: 10.",
    "LAPOR_DB_MAX_OVERFLOW": "Extra connections under load. Default: 10.",
    "LAPOR_DB_PREPARE_THRESHOLD": "psycopg prepare threshold; 'none' behind old pgbouncer. Default: 5.",
    "LAPOR_MIGRATE_WORKERS": "Tenant schemas migrated in parallel. Default: 8.",
    "LAPOR_HOST_CACHE_TTL": "Seconds a host->tenant entry lives without Redis. Default: 30.",
    "LAPOR_RATE_LIMIT_UNKNOWN_HOST": "Requests a minute per IP for hosts that are no cached tenant "
    "(404s, registry lookups); 0: off. Default: 60.",
    "LAPOR_DB_TIMEOUT_PUBLIC": "Seconds one SQL statement may run for a caller without a token; 0: none. "
    "Default: 2.",
    "LAPOR_DB_TIMEOUT_STAFF": "The same for staff and OAuth clients. Default: 15.",
    "LAPOR_DB_TIMEOUT_BACKGROUND": "The same for the worker and the CLI. Default: 300.",
    "LAPOR_TRUSTED_PROXIES": "Comma-separated proxy IPs/networks whose X-Forwarded-For is believed. "
    "Default: none (the peer address is the client).",
    "LAPOR_HEADER_TIMEOUT": "Seconds a connection has to send a request's headers. Default: 10.",
    "LAPOR_BODY_TIMEOUT": "Seconds a request has to send its whole body (then 408). Default: 15.",
    "LAPOR_KEEP_ALIVE_TIMEOUT": "Seconds an idle keep-alive connection stays open. Default: 5.",
    "LAPOR_MAX_HEADER_BYTES": "Largest request line plus headers, in bytes. Default: 16384.",
    "LAPOR_MAX_CONNECTIONS": "Connections and requests per worker before 503; 0: no cap. Default: 1000.",
    "LAPOR_LOG_LEVEL": "DEBUG, INFO, WARNING, ERROR. Default: INFO.",
    "LAPOR_SECRET_KEY": "At least 32 random bytes (base64 or hex) for reporter data encryption. "
    "Default: a key file in the data dir.",
    "LAPOR_ISSUER": "OAuth issuer URL, e.g. https://lapor.go.id. Default: http(s)://<base domain>.",
    "LAPOR_OAUTH_ALLOW_HTTP": "1 to allow OAuth over plain http. "
    "Default: only when the base domain is *.localhost or *.test.",
    "LAPOR_RATE_LIMIT_PUBLIC": "Points a minute per IP and tenant without a token (and per IP on "
    "/oauth/token); 0: off. Default: 300.",
    "LAPOR_RATE_LIMIT_CLIENT": "Points a minute per OAuth client and tenant; 0: off. Default: 5000.",
    "LAPOR_RATE_LIMIT_IP": "Points a minute per IP across all tenants without a token; 0: off. "
    "Default: 3 x LAPOR_RATE_LIMIT_PUBLIC.",
    "LAPOR_MAX_CONCURRENT_SEARCHES": "Searches one IP or client may run at once; 0: no cap. Default: 2.",
    "LAPOR_WS_CONNECTIONS_PER_IP": "Open GraphQL websockets per IP; 0: no cap. Default: 10.",
    "LAPOR_WS_CONNECTIONS_PER_TOKEN": "Open GraphQL websockets per access token; 0: no cap. Default: 5.",
    "LAPOR_WS_SUBSCRIPTIONS_PER_CONNECTION": "Subscriptions on one websocket. Default: 10.",
    "LAPOR_WS_AUTH_RECHECK": "Seconds between revocation checks of a subscription's token. Default: 30.",
    "LAPOR_GRAPHIQL": "1 to serve GraphiQL, 0 to turn it off. Default: on only for localhost and *.test.",
}
