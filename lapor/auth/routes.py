"""Starlette endpoints of the authorization server (DESIGN.md section 6).

Each reads the request asynchronously, hands Authlib a ready ``OAuthRequest`` and runs it in a
worker thread (Authlib is synchronous) knowing the request's host (``run_for_host``: the tenant
the host middleware resolved, and the host's issuer), then turns its answer into a response.

Bounds (issue 9 items 4, 5): every path here is rate limited per IP by
``TokenEndpointRateLimit``; argon2 runs under a process-wide gate (``lapor.auth.hashing``), and
a request that finds it full gets 429; failed logins slow down further ones per account
(``lapor.auth.login_throttle``); a login form's CSRF token is bound to a cookie and works once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from authlib.oauth2 import OAuth2Error
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from lapor.auth import login_page
from lapor.auth.accounts import authenticate_sync
from lapor.auth.hashing import HashingBusy
from lapor.auth.server import HostContext, OAuthRequest, StaffPrincipal, _principal, run_for_host
from lapor.platform.ratelimit import client_ip
from lapor.platform.services import Services

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 16 * 1024
BUSY_MESSAGE = (
    "Server sedang sibuk memeriksa kata sandi; coba lagi sebentar lagi. "
    "(Too many password checks at once; try again in a moment.)"
)
BUSY_RETRY_SECONDS = 2


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


def _busy_json() -> JSONResponse:
    return JSONResponse(
        {"error": "temporarily_unavailable", "error_description": BUSY_MESSAGE},
        status_code=429,
        headers={"retry-after": str(BUSY_RETRY_SECONDS), "cache-control": "no-store"},
    )


def _services(request: Request) -> Services:
    return request.app.state.services


def _host(request: Request) -> HostContext:
    """The tenant the host middleware resolved for this request, and this host's issuer."""
    issuer = _services(request).oauth.issuers.for_host(request.headers.get("host", ""))
    return HostContext(request.scope["state"]["tenant"], issuer)


async def _authlib(request: Request, function: Callable[..., Any], *args: Any) -> Any:
    return await run_in_threadpool(run_for_host, _host(request), function, *args)


async def token(request: Request) -> Response:
    services = _services(request)
    oauth_request = await _read(request)
    try:
        return _respond(await _authlib(request, services.oauth.create_token_response, oauth_request))
    except HashingBusy:
        return _busy_json()


async def revoke(request: Request) -> Response:
    services = _services(request)
    await services.keys.verifying_keyset(None)
    oauth_request = await _read(request)
    try:
        answer = await _authlib(request, services.oauth.create_endpoint_response, "revocation", oauth_request)
    except HashingBusy:
        return _busy_json()
    for claims in oauth_request.revoked_access_tokens:
        await services.revocations.revoke(str(claims["jti"]), float(claims["exp"]))
    return _respond(answer)


async def introspect(request: Request) -> Response:
    services = _services(request)
    await services.keys.verifying_keyset(None)
    oauth_request = await _read(request)
    try:
        answer = await _authlib(
            request, services.oauth.create_endpoint_response, "introspection", oauth_request
        )
    except HashingBusy:
        return _busy_json()
    status, body, headers = answer
    active = isinstance(body, dict) and body.get("active") and body.get("jti")
    if active and (
        await services.revocations.is_revoked(str(body["jti"]))
        or not await services.oauth.issuers.accepts(body.get("iss"), body.get("aud"))
    ):
        body = {"active": False}
    return _respond((status, body, headers))


async def metadata(request: Request) -> JSONResponse:
    """This host's own metadata: its issuer is the URL the client discovered from (RFC 8414 3.3)."""
    return JSONResponse(_services(request).oauth.metadata(_host(request).issuer))


async def jwks(request: Request) -> JSONResponse:
    services = _services(request)
    await services.keys.verifying_keyset(None)
    return JSONResponse(services.keys.jwks(), headers={"cache-control": "public, max-age=300"})


async def stylesheet(_request: Request) -> Response:
    return Response(
        login_page.STYLESHEET,
        media_type="text/css",
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Every HTML answer carries the full security header set, error pages included."""
    return HTMLResponse(body, status_code=status, headers={**login_page.SECURITY_HEADERS, **(headers or {})})


def _page_error(status: int, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html lang='id'><head><meta charset='utf-8'><title>LAPOR</title></head>"
        "<body><h1>Permintaan tidak valid</h1>"
        f"<p>{login_page.escape(message)}</p></body></html>"
    )
    return _html(body, status)


def _wait_message(seconds: int) -> str:
    return (
        f"Terlalu banyak percobaan masuk yang gagal untuk akun ini; coba lagi dalam {seconds} detik. "
        f"(Too many failed sign-ins for this account; try again in {seconds} seconds.)"
    )


async def authorize(request: Request) -> Response:
    """GET shows the login and consent form; POST checks it and redirects with a code."""
    services = _services(request)
    oauth_request = await _read(request)
    params = oauth_request.payload.data
    try:
        grant = await _authlib(request, services.oauth.get_consent_grant, oauth_request)
    except OAuth2Error as error:
        # Before the client and redirect URI are known good, never redirect anywhere.
        return _page_error(400, error.description or error.error)
    client = grant.client
    tenant = await services.directory.by_slug(client.tenant_slug) if client.tenant_slug else None
    tenant_name = tenant.name if tenant else "LAPOR nasional"
    scopes = sorted(set(client.get_allowed_scope(params.get("scope", "")).split()))
    key = services.secrets.form_key
    cookie = request.cookies.get(login_page.COOKIE, "")

    def page(status: int, error: str | None = None, headers: dict[str, str] | None = None) -> HTMLResponse:
        """The form with a fresh single-use token (bound to the browser's cookie, set if missing)."""
        browser = cookie or login_page.new_cookie()
        answer = _html(
            login_page.render(
                client_name=client.name, tenant_name=tenant_name, scopes=scopes, params=params,
                csrf=login_page.csrf_token(key, params, browser), error=error, email=params.get("email", ""),
            ),
            status, headers,
        )  # fmt: skip
        if browser != cookie:
            answer.set_cookie(
                login_page.COOKIE, browser, max_age=login_page.CSRF_SECONDS, path="/oauth/authorize",
                secure=services.oauth.issuers.scheme == "https", httponly=True, samesite="lax",
            )  # fmt: skip
        return answer

    if request.method == "GET":
        return page(200)
    nonce = login_page.csrf_nonce(key, params, cookie, params.get("csrf", ""))
    if nonce is None:
        return _page_error(
            400, "Formulir kedaluwarsa atau tidak sah; muat ulang halaman. (Form expired or forged.)"
        )
    if not await services.oauth.csrf_nonces.claim(nonce, login_page.CSRF_SECONDS):
        return _page_error(
            400, "Formulir ini sudah dikirim; muat ulang halaman. (This form was already submitted; reload.)"
        )
    if params.get("decision") != "approve":
        denied = await _authlib(request, services.oauth.create_authorization_response, oauth_request, None)
        return _respond(denied)

    email, ip = params.get("email", ""), client_ip(request.scope)
    throttle = services.oauth.login_throttle
    wait = await throttle.wait_seconds(email, ip)
    if wait:
        return page(429, _wait_message(wait), {"retry-after": str(wait)})

    def login() -> StaffPrincipal | None:
        with services.db.sync_public.begin() as conn:
            user = authenticate_sync(conn, email, params.get("password", ""))
            return _principal(conn, user.id, client) if user else None

    try:
        principal = await run_in_threadpool(login)
    except HashingBusy:
        return page(429, BUSY_MESSAGE, {"retry-after": str(BUSY_RETRY_SECONDS)})
    if principal is None:
        await throttle.failed(email, ip)
        wait = await throttle.wait_seconds(email, ip)
        message = (
            "Surel atau kata sandi salah, atau akun tidak punya akses ke instansi ini. "
            "(Wrong e-mail or password, or no access to this agency.)"
        )
        return page(401, message + (" " + _wait_message(wait) if wait else ""))
    await throttle.succeeded(email, ip)
    return _respond(
        await _authlib(request, services.oauth.create_authorization_response, oauth_request, principal)
    )


def oauth_routes() -> list[BaseRoute]:
    return [
        Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/oauth/introspect", introspect, methods=["POST"]),
        Route(login_page.STYLESHEET_PATH, stylesheet, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
    ]


OAUTH_PATHS = frozenset(route.path for route in oauth_routes())  # type: ignore[attr-defined]
