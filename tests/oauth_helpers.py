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
        db, name=f"Klien uji {uuid.uuid4().hex[:6]}", scopes=frozenset(scopes.split()),
        tenant_slug=tenant, national=national,
    )  # fmt: skip
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
