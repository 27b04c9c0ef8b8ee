"""Settings: one frozen object built once from ``LAPOR_*`` environment variables.

Nothing below the CLI and app factories reads ``os.environ``; they receive a ``Settings``.
"""

from __future__ import annotations

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
            log_level=(env.get("LAPOR_LOG_LEVEL") or "INFO").upper(),
            secret_key=env.get("LAPOR_SECRET_KEY") or None,
            issuer=(env.get("LAPOR_ISSUER") or "").rstrip("/") or None,
            oauth_allow_http=_bool(env, "LAPOR_OAUTH_ALLOW_HTTP", False)
            if env.get("LAPOR_OAUTH_ALLOW_HTTP")
            else None,
            rate_limit_public=_int(env, "LAPOR_RATE_LIMIT_PUBLIC", 300),
            rate_limit_client=_int(env, "LAPOR_RATE_LIMIT_CLIENT", 5000),
        )

    @property
    def allows_http_oauth(self) -> bool:
        if self.oauth_allow_http is not None:
            return self.oauth_allow_http
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
    "LAPOR_LOG_LEVEL": "DEBUG, INFO, WARNING, ERROR. Default: INFO.",
    "LAPOR_SECRET_KEY": "At least 32 random bytes (base64 or hex) for reporter data encryption. "
    "Default: a key file in the data dir.",
    "LAPOR_ISSUER": "OAuth issuer URL, e.g. https://lapor.go.id. Default: http(s)://<base domain>.",
    "LAPOR_OAUTH_ALLOW_HTTP": "1 to allow OAuth over plain http. "
    "Default: only when the base domain is *.localhost or *.test.",
    "LAPOR_RATE_LIMIT_PUBLIC": "Points a minute per IP and tenant without a token (and per IP on "
    "/oauth/token); 0: off. Default: 300.",
    "LAPOR_RATE_LIMIT_CLIENT": "Points a minute per OAuth client and tenant; 0: off. Default: 5000.",
}
