"""ASGI middleware: the ``Host`` header decides the tenant, before anything else runs.

Unknown host: 404 naming the host (never another tenant's data). Suspended tenant: 403 saying so.
Registry unreachable: 503. Paths that do not belong to a tenant (health checks) pass untouched.

Unknown hosts are limited per client IP (issue 9, item 11): every request whose host is not a
cached tenant spends a point of the IP's platform-wide ``unknown-host`` bucket
(``LAPOR_RATE_LIMIT_UNKNOWN_HOST`` a minute) *before* any registry lookup, so random ``Host``
headers cost one IP at most that many queries a minute, then 429 without touching the database.
Known tenants' hosts spend nothing, also when their cache entry has expired and is being looked up
again (or the registry is down and every lookup fails: a client must not run out while it waits).

Every request admitted to a tenant runs its tenant transactions under the public statement
timeout until the GraphQL view has verified a token (``lapor.tenants.context.use_budget``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from lapor.platform.keys import platform_key
from lapor.platform.ratelimit import Decision, client_ip
from lapor.tenants.context import Budget, reset_budget, use_budget
from lapor.tenants.directory import MISSING, TenantDirectory
from lapor.tenants.validation import normalize_host

log = logging.getLogger(__name__)


class TenantHostMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        directory: TenantDirectory,
        *,
        exempt_paths: Collection[str] = ("/healthz", "/readyz"),
    ) -> None:
        self.app = app
        self.directory = directory
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        raw_host = _header(scope, b"host")
        host = normalize_host(raw_host)
        cached = self.directory.cached(host) if host else None
        if cached is None or (cached is MISSING and not self.directory.was_known(host)):
            decision = await _charge_unknown_host(scope)
            if decision is not None and not decision.allowed:
                await _refuse(
                    scope,
                    receive,
                    send,
                    429,
                    "RATE_LIMITED",
                    f"Terlalu banyak permintaan untuk host yang tidak dikenal; coba lagi setelah "
                    f"{decision.retry_after} detik. (Too many requests for unknown hosts; retry after "
                    f"{decision.retry_after} seconds.)",
                    headers=decision.headers(),
                )
                return
        try:
            tenant = await self.directory.resolve(host) if host else None
        except (SQLAlchemyError, OSError) as error:
            log.warning("tenant registry unavailable: %s", error)
            await _refuse(
                scope,
                receive,
                send,
                503,
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable; try again shortly.",
            )
            return
        if tenant is None:
            await _refuse(
                scope, receive, send, 404, "UNKNOWN_HOST", f"No LAPOR tenant is served at host {raw_host!r}."
            )
            return
        if not tenant.is_active:
            reason = f": {tenant.status_reason}" if tenant.status_reason else "."
            await _refuse(
                scope,
                receive,
                send,
                403,
                "TENANT_SUSPENDED",
                f"Tenant {tenant.slug!r} ({tenant.name}) is suspended{reason}",
            )
            return
        scope.setdefault("state", {})["tenant"] = tenant
        token = use_budget(Budget.PUBLIC)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_budget(token)


async def _charge_unknown_host(scope: Scope) -> Decision | None:
    """One point of the client IP's unknown-host bucket; ``None`` when there is no limiter (the
    app's services are not up, or the limit is 0)."""
    app = scope.get("app")
    services = getattr(getattr(app, "state", None), "services", None)
    limiter = getattr(services, "ratelimiter", None)
    settings = getattr(services, "settings", None)
    if limiter is None or settings is None:
        return None
    return await limiter.charge(
        platform_key("rate", "unknown-host", client_ip(scope)), settings.rate_limit_unknown_host, 1
    )


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
        return
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    extra = [(name.lower().encode("latin-1"), value.encode()) for name, value in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
