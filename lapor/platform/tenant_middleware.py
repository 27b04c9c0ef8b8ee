"""ASGI middleware: the ``Host`` header decides the tenant, before anything else runs.

Unknown host: 404 naming the host (never another tenant's data). Suspended tenant: 403 saying so.
Registry unreachable: 503. Paths that do not belong to a tenant (health checks) pass untouched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from lapor.tenants.directory import TenantDirectory
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
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
        return
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
