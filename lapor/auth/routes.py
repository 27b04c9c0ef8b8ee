"""Starlette endpoints of the authorization server (DESIGN.md section 6).

Each reads the request asynchronously, hands Authlib a ready ``OAuthRequest`` and runs it in a
worker thread (Authlib is synchronous), then turns its answer into a Starlette response.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2 import OAuth2Error
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from lapor.auth import login_page
from lapor.auth.accounts import authenticate_sync
from lapor.auth.server import OAuthRequest, StaffPrincipal, _principal
from lapor.platform.services import Services

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 16 * 1024


async def _read(request: Request) -> OAuthRequest:
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            raise OAuth2Error(description="request body too large", status_code=413)
        data = await request.form(max_files=0, max_fields=50)
        form = [(key, value) for key, value in data.multi_items() if isinstance(value, str)]
    return OAuthRequest(
        request.method,
        str(request.url),
        request.headers,
        list(request.query_params.multi_items()),
        form,
    )


def _respond(answer: tuple[int, Any, list[tuple[str, str]]]) -> Response:
    status, body, headers = answer
    header_map = dict(headers)
    if isinstance(body, dict):
        return JSONResponse(
            body,
            status_code=status,
            headers={k: v for k, v in header_map.items() if k.lower() != "content-type"},
        )
    location = header_map.get("Location")
    if location is not None:
        return RedirectResponse(location, status_code=302)
    return Response(body or "", status_code=status, headers=header_map)


def _services(request: Request) -> Services:
    return request.app.state.services


async def token(request: Request) -> Response:
    services = _services(request)
    oauth_request = await _read(request)
    return _respond(await run_in_threadpool(services.oauth.create_token_response, oauth_request))


async def revoke(request: Request) -> Response:
    services = _services(request)
    await services.keys.verifying_keyset(None)
    oauth_request = await _read(request)
    answer = await run_in_threadpool(services.oauth.create_endpoint_response, "revocation", oauth_request)
    for claims in oauth_request.revoked_access_tokens:
        await services.revocations.revoke(str(claims["jti"]), float(claims["exp"]))
    return _respond(answer)


async def introspect(request: Request) -> Response:
    services = _services(request)
    await services.keys.verifying_keyset(None)
    answer = await run_in_threadpool(
        services.oauth.create_endpoint_response, "introspection", await _read(request)
    )
    status, body, headers = answer
    active = isinstance(body, dict) and body.get("active") and body.get("jti")
    if active and await services.revocations.is_revoked(str(body["jti"])):
        body = {"active": False}
    return _respond((status, body, headers))


async def metadata(request: Request) -> JSONResponse:
    return JSONResponse(_services(request).oauth.metadata())


async def jwks(request: Request) -> JSONResponse:
    services = _services(request)
    await services.keys.verifying_keyset(None)
    return JSONResponse(services.keys.jwks(), headers={"cache-control": "public, max-age=300"})


def _page_error(status: int, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang='id'><body><h1>Permintaan tidak valid</h1>"
        f"<p>{login_page.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


async def authorize(request: Request) -> Response:
    """GET shows the login and consent form; POST checks it and redirects with a code."""
    services = _services(request)
    oauth_request = await _read(request)
    params = oauth_request.payload.data
    try:
        grant = await run_in_threadpool(services.oauth.get_consent_grant, oauth_request)
    except OAuth2Error as error:
        # Before the client and redirect URI are known good, never redirect anywhere.
        return _page_error(400, error.description or error.error)
    client = grant.client
    tenant = await services.directory.by_slug(client.tenant_slug) if client.tenant_slug else None
    tenant_name = tenant.name if tenant else "LAPOR nasional"
    scopes = sorted(set(client.get_allowed_scope(params.get("scope", "")).split()))
    key = services.secrets.form_key
    if request.method == "GET":
        return HTMLResponse(
            login_page.render(
                client_name=client.name, tenant_name=tenant_name, scopes=scopes, params=params,
                csrf=login_page.csrf_token(key, params),
            ),
            headers={"x-frame-options": "DENY", "cache-control": "no-store"},
        )  # fmt: skip
    if not login_page.csrf_valid(key, params, params.get("csrf", "")):
        return _page_error(
            400, "Formulir kedaluwarsa atau tidak sah; muat ulang halaman. (Form expired or forged.)"
        )
    if params.get("decision") != "approve":
        return _respond(
            await run_in_threadpool(services.oauth.create_authorization_response, oauth_request, None)
        )

    def login() -> StaffPrincipal | None:
        with services.db.sync_public.begin() as conn:
            user = authenticate_sync(conn, params.get("email", ""), params.get("password", ""))
            return _principal(conn, user.id, client) if user else None

    principal = await run_in_threadpool(login)
    if principal is None:
        return HTMLResponse(
            login_page.render(
                client_name=client.name, tenant_name=tenant_name, scopes=scopes, params=params,
                csrf=login_page.csrf_token(key, params),
                error="Surel atau kata sandi salah, atau akun tidak punya akses ke instansi ini. "
                "(Wrong e-mail or password, or no access to this agency.)",
            ),
            status_code=401,
        )  # fmt: skip
    return _respond(
        await run_in_threadpool(services.oauth.create_authorization_response, oauth_request, principal)
    )


def oauth_routes() -> list[BaseRoute]:
    return [
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/oauth/introspect", introspect, methods=["POST"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]


OAUTH_PATHS = frozenset(route.path for route in oauth_routes())  # type: ignore[attr-defined]
