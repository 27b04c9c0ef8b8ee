"""OAuth in tests: real clients registered through the accounts service, tokens through
``/oauth/token`` driven by Authlib's own OAuth client over the ASGI transport."""

from __future__ import annotations

import uuid
import warnings

import httpx

from lapor.auth.accounts import create_client, create_user, grant_role
from lapor.auth.roles import Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

TOKEN_URL = "http://{host}/oauth/token"


async def machine_token(
    db, app, host: str, *, tenant: str | None, scopes: str, national: bool = False
) -> str:
    """A client_credentials token for a fresh client of ``tenant`` (or the national scope)."""
    client, secret = await create_client(
        db,
        name=f"Klien uji {uuid.uuid4().hex[:6]}",
        scopes=frozenset(scopes.split()),
        tenant_slug=tenant,
        national=national,
    )
    async with AsyncOAuth2Client(
        client.client_id, secret, transport=httpx.ASGITransport(app=app), scope=scopes
    ) as oauth:
        token = await oauth.fetch_token(TOKEN_URL.format(host=host), grant_type="client_credentials")
    return token["access_token"]


async def staff_account(db, tenant: str, role: Role, unit_id: int | None = None) -> tuple[str, str]:
    email = f"staf-{uuid.uuid4().hex[:8]}@example.go.id"
    password = "kata-sandi-rahasia-123"
    await create_user(db, email, "Staf Uji", password)
    await grant_role(db, email, tenant, role, unit_id)
    return email, password


REDIRECT = "http://localhost:9999/callback"


async def login_form(
    client: httpx.AsyncClient, url: str, host: str, email: str, password: str
) -> httpx.Response:
    """Fill in the real login and consent page (no JavaScript), as a person would."""
    import re

    page = await client.get(url, headers={"host": host})
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields = {k: v.replace("&amp;", "&").replace("&quot;", '"') for k, v in fields.items()}
    fields.update(email=email, password=password, decision="approve")
    # To the page's own URL, as a browser does: its login cookie belongs to that host.
    return await client.post(f"http://{host}/oauth/authorize", data=fields, headers={"host": host})


async def user_token(
    db,
    app,
    client: httpx.AsyncClient,
    *,
    host: str,
    tenant: str | None,
    role: Role,
    scopes: str,
    unit_id: int | None = None,
    national: bool = False,
) -> str:
    """A staff member's access token through the authorization-code flow with PKCE."""
    import secrets

    from lapor.auth.accounts import create_client

    email, password = await staff_account(db, tenant or "nasional", role, unit_id)
    registered, secret = await create_client(
        db,
        name="Aplikasi Staf",
        scopes=frozenset(scopes.split()),
        tenant_slug=None if national else tenant,
        national=national,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
    )
    async with AsyncOAuth2Client(
        registered.client_id,
        secret,
        scope=scopes,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        transport=httpx.ASGITransport(app=app),
    ) as oauth:
        verifier = secrets.token_urlsafe(48)
        url, _state = oauth.create_authorization_url(f"http://{host}/oauth/authorize", code_verifier=verifier)
        answer = await login_form(client, url, host, email, password)
        assert answer.status_code == 302, answer.text
        token = await oauth.fetch_token(
            f"http://{host}/oauth/token",
            authorization_response=answer.headers["location"],
            code_verifier=verifier,
        )
    return token["access_token"]


# --- bearer tokens for GraphQL tests --------------------------------------------------------

TENANT_STAFF_SCOPES = (
    "complaints:read complaints:submit complaints:triage complaints:respond complaints:transfer reporters:read "
    "routing:read routing:write units:write stats:read tenant:admin"
)
_served: dict[int, tuple[object, object]] = {}
_tokens: dict[tuple[int, str | None, str], tuple[float, str]] = {}


def remember_app(client: httpx.AsyncClient, app: object, db: object) -> None:
    """Let ``bearer_for`` mint tokens for requests sent through ``client``."""
    _served[id(client)] = (app, db)


async def bearer_for(client: httpx.AsyncClient, tenant_slug: str | None, scopes: str | None = None) -> str:
    """A real client-credentials token for ``tenant_slug`` (``None``: national), cached a while."""
    import time

    from tests.conftest import BASE_DOMAIN

    app, db = _served[id(client)]
    wanted = (
        scopes if scopes is not None else (TENANT_STAFF_SCOPES if tenant_slug else "national:read stats:read")
    )
    key = (id(app), tenant_slug, wanted)
    cached = _tokens.get(key)
    if cached is not None and time.monotonic() - cached[0] < 300:
        return cached[1]
    host = f"{tenant_slug}.{BASE_DOMAIN}" if tenant_slug else BASE_DOMAIN
    token = await machine_token(
        db, app, host, tenant=tenant_slug, national=tenant_slug is None, scopes=wanted
    )
    _tokens[key] = (time.monotonic(), token)
    return token
