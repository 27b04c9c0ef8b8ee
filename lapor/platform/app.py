"""The ASGI application: host middleware in front, GraphQL and health checks behind."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from lapor.auth.routes import oauth_routes
from lapor.platform.body_limit import BodySizeLimit
from lapor.platform.client_watch import BodyReadTimeout, CancelOnDisconnect
from lapor.platform.embedded import database_url_from
from lapor.platform.ratelimit import TokenEndpointRateLimit
from lapor.platform.services import Services
from lapor.platform.tenant_middleware import TenantHostMiddleware
from lapor.schema import schema
from lapor.schema.view import LaporGraphQL
from lapor.settings import Settings

log = logging.getLogger(__name__)


async def healthz(_request: Request) -> JSONResponse:
    """The process is alive (no dependencies checked)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The process can serve: the database answers."""
    services: Services = request.app.state.services
    try:
        async with services.db.public.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as error:
        log.warning("readiness check failed: %s", error)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ready", "database": "ok"})


class _LazyTenantHosts:
    """Puts the host middleware in front once the services (and their directory) exist."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._wrapped: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if self._wrapped is None:
            services: Services = scope["app"].state.services
            self._wrapped = TenantHostMiddleware(
                # OAuth paths resolve the host like /graphql (issue 9 item 15): unknown 404, suspended 403.
                self.app, services.directory, exempt_paths={"/healthz", "/readyz"}
            )
        await self._wrapped(scope, receive, send)


def create_app(settings: Settings, database_url: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.services = await Services.start(settings, database_url)
        try:
            yield
        finally:
            await app.state.services.close()

    graphql = LaporGraphQL(schema)
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *oauth_routes(),
        ],
        middleware=[
            Middleware(BodySizeLimit),
            # Slow bodies get 408; a request whose client left is cancelled (issue 9 items 12, 3).
            Middleware(BodyReadTimeout),
            Middleware(CancelOnDisconnect),
            Middleware(TokenEndpointRateLimit),
            Middleware(_LazyTenantHosts),
        ],
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` (several workers): settings from the environment."""
    settings = Settings.from_env()
    return create_app(settings, database_url_from(settings))
