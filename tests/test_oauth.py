"""OAuth 2 end to end, driven by Authlib's own client: every grant, rotation, revocation,
introspection, discovery, and the bearer checks on GraphQL."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import warnings
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import sqlalchemy as sa
from joserfc import jwt

from lapor.auth.accounts import create_client
from lapor.auth.keys import rotate_key
from lapor.auth.roles import Role
from lapor.platform.public_tables import signing_key
from tests.apps import running_app
from tests.conftest import BASE_DOMAIN
from tests.oauth_helpers import machine_token, staff_account

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

REDIRECT = "http://localhost:9999/callback"
VIEWER_QUERY = "{ viewer { name scopes } complaints(first: 1) { edges { cursor } } }"


@pytest.fixture
async def app(settings):
    async with running_app(settings) as (application, client):
        yield application, client


async def gql(client: httpx.AsyncClient, host: str, token: str | None, query: str = VIEWER_QUERY) -> dict:
    headers = {"host": host}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200 and "Traceback" not in response.text
    return response.json()


def error_codes(body: dict) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors") or []}


async def test_metadata_and_jwks_are_discoverable(app, national):
    _application, client = app
    meta = (await client.get("/.well-known/oauth-authorization-server", headers={"host": BASE_DOMAIN})).json()
    assert meta["issuer"] == f"http://{BASE_DOMAIN}"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials", "refresh_token"} == set(meta["grant_types_supported"])
    assert "password" not in meta["grant_types_supported"]
    keys = (await client.get("/.well-known/jwks.json", headers={"host": BASE_DOMAIN})).json()["keys"]
    assert keys and all("d" not in key for key in keys), "never a private key"


async def test_client_credentials_token_reads_its_own_tenant_only(app, db, make_regency):
    application, client = app
    a, b = await make_regency(), await make_regency()
    host_a, host_b = f"{a.slug}.{BASE_DOMAIN}", f"{b.slug}.{BASE_DOMAIN}"
    token = await machine_token(db, application, host_a, tenant=a.slug, scopes="complaints:read")
    decoded = jwt.decode(token, application.state.services.keys.verifying_snapshot())
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["aud"] == a.slug and claims["scope"] == "complaints:read"
    assert 600 <= claims["exp"] - claims["iat"] <= 900
    body = await gql(client, host_a, token)
    assert not body.get("errors"), body
    assert body["data"]["viewer"]["scopes"] == ["complaints:read"]
    assert error_codes(await gql(client, host_b, token)) == {"FORBIDDEN"}
    refused = await gql(
        client, host_a, token,
        'mutation { verifyComplaint(input: {trackingId: "X-1"}) { errors { code } } }',
    )  # fmt: skip
    assert error_codes(refused) == {"FORBIDDEN"}


async def test_bad_tokens_are_unauthenticated(app, db, make_regency):
    application, client = app
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    good = await machine_token(db, application, host, tenant=tenant.slug, scopes="complaints:read")
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "complaints:read tenant:admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    for bad in ("", "not-a-jwt", f"{header}.{forged}.{signature}", good[:-4] + "AAAA"):
        assert error_codes(await gql(client, host, bad or "x")) == {"UNAUTHENTICATED"}, bad
    assert error_codes(await gql(client, host, None)) == {"UNAUTHENTICATED"}
    public = await gql(client, host, "garbage", "{ tenant { slug } }")
    assert public["data"]["tenant"]["slug"] == tenant.slug, "public fields still answer"


async def test_expired_token_is_unauthenticated(app, db, make_regency, monkeypatch):
    application, client = app
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)
    old = await machine_token(db, application, host, tenant=tenant.slug, scopes="complaints:read")
    monkeypatch.setattr(time, "time", real_time)
    assert error_codes(await gql(client, host, old)) == {"UNAUTHENTICATED"}


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


async def _login(client: httpx.AsyncClient, url: str, host: str, email: str, password: str) -> httpx.Response:
    page = await client.get(url, headers={"host": host})
    assert page.status_code == 200, page.text
    assert "<form" in page.text and 'type="password"' in page.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    fields = {k: v.replace("&amp;", "&").replace("&quot;", '"') for k, v in fields.items()}
    fields.update(email=email, password=password, decision="approve")
    # To the page's own URL, as a browser does: its login cookie belongs to that host.
    return await client.post(f"http://{host}/oauth/authorize", data=fields, headers={"host": host})


async def test_authorization_code_with_pkce_refresh_rotation_and_reuse_detection(app, db, make_regency):
    application, client = app
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    email, password = await staff_account(db, tenant.slug, Role.TRIAGE_OFFICER)
    registered, secret = await create_client(
        db,
        name="Aplikasi Petugas",
        scopes=frozenset({"complaints:read", "complaints:triage", "tenant:admin"}),
        tenant_slug=tenant.slug,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT,),
    )
    transport = httpx.ASGITransport(app=application)
    async with AsyncOAuth2Client(
        registered.client_id, secret, scope="complaints:read complaints:triage tenant:admin",
        redirect_uri=REDIRECT, code_challenge_method="S256", transport=transport,
    ) as oauth:  # fmt: skip
        verifier = secrets.token_urlsafe(48)
        url, state = oauth.create_authorization_url(f"http://{host}/oauth/authorize", code_verifier=verifier)
        wrong = await _login(client, url, host, email, "salah-sekali-123")
        assert wrong.status_code == 401 and "salah" in wrong.text
        answer = await _login(client, url, host, email, password)
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT) and parse_qs(urlparse(location).query)["state"] == [state]
        token = await oauth.fetch_token(
            f"http://{host}/oauth/token", authorization_response=location, code_verifier=verifier
        )
        assert token["scope"] == "complaints:read complaints:triage", "the role caps what the client asked"
        claims = jwt.decode(
            token["access_token"], application.state.services.keys.verifying_snapshot()
        ).claims
        assert claims["role"] == "TRIAGE_OFFICER" and claims["sub"].startswith("user:")
        body = await gql(client, host, token["access_token"])
        assert body["data"]["viewer"]["name"] == "Staf Uji"

        with pytest.raises(OAuthError):  # a code works once
            await oauth.fetch_token(f"http://{host}/oauth/token", authorization_response=location,
                                    code_verifier=verifier)  # fmt: skip

        oauth.scope = token["scope"]  # a refresh may only ask for what was granted
        first_refresh = token["refresh_token"]
        renewed = await oauth.refresh_token(f"http://{host}/oauth/token", refresh_token=first_refresh)
        assert renewed["refresh_token"] != first_refresh and renewed["access_token"]
        with pytest.raises(OAuthError):  # reuse of a rotated refresh token...
            await oauth.refresh_token(f"http://{host}/oauth/token", refresh_token=first_refresh)
        with pytest.raises(OAuthError):  # ...revokes the whole family, the newest token included
            await oauth.refresh_token(f"http://{host}/oauth/token", refresh_token=renewed["refresh_token"])


async def test_pkce_is_required_and_plain_is_refused(app, db, make_regency):
    _application, client = app
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    registered, _secret = await create_client(
        db, name="Aplikasi Tanpa PKCE", scopes=frozenset({"complaints:read"}), tenant_slug=tenant.slug,
        grant_types=("authorization_code",), redirect_uris=(REDIRECT,),
    )  # fmt: skip
    base = f"/oauth/authorize?response_type=code&client_id={registered.client_id}&redirect_uri={REDIRECT}"
    # A challenge of valid length (43 characters), so only the method can be what is refused.
    for extra in ("", f"&code_challenge={'a' * 43}&code_challenge_method=plain", f"&code_challenge={'a' * 43}"):
        page = await client.get(base + extra, headers={"host": host})
        assert page.status_code in (302, 400)
        if page.status_code == 302:
            assert "error=invalid_request" in page.headers["location"]
    unknown = await client.get("/oauth/authorize?response_type=code&client_id=nope", headers={"host": host})
    assert unknown.status_code == 400 and "location" not in unknown.headers


async def test_revocation_and_introspection(app, db, make_regency):
    application, client = app
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    registered, secret = await create_client(
        db, name="Gateway SMS", scopes=frozenset({"complaints:read"}), tenant_slug=tenant.slug
    )
    transport = httpx.ASGITransport(app=application)
    async with AsyncOAuth2Client(registered.client_id, secret, transport=transport) as oauth:
        token = await oauth.fetch_token(f"http://{host}/oauth/token", grant_type="client_credentials")
        access = token["access_token"]
        basic = httpx.BasicAuth(registered.client_id, secret)
        introspected = await client.post(
            "/oauth/introspect", data={"token": access}, auth=basic, headers={"host": host}
        )
        body = introspected.json()
        assert (
            body["active"] is True
            and body["aud"] == tenant.slug
            and body["client_id"] == registered.client_id
        )
        assert not error_codes(await gql(client, host, access))
        revoked = await oauth.revoke_token(f"http://{host}/oauth/revoke", token=access)
        assert revoked.status_code == 200
        assert error_codes(await gql(client, host, access)) == {"UNAUTHENTICATED"}
        after = await client.post(
            "/oauth/introspect", data={"token": access}, auth=basic, headers={"host": host}
        )
        assert after.json() == {"active": False}
    async with AsyncOAuth2Client(registered.client_id, "wrong-secret", transport=transport) as intruder:
        with pytest.raises(OAuthError):
            await intruder.fetch_token(f"http://{host}/oauth/token", grant_type="client_credentials")


async def test_key_rotation_old_tokens_verify_until_retired(app, db, make_regency, settings):
    application, client = app
    services = application.state.services
    tenant = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    before = await machine_token(db, application, host, tenant=tenant.slug, scopes="complaints:read")
    old_kid = jwt.decode(before, services.keys.verifying_snapshot()).header["kid"]
    new_kid = await rotate_key(db, services.secrets)
    await services.keys.load()
    after = await machine_token(db, application, host, tenant=tenant.slug, scopes="complaints:read")
    assert jwt.decode(after, services.keys.verifying_snapshot()).header["kid"] == new_kid != old_kid
    assert not error_codes(await gql(client, host, before)), "the previous key still verifies"
    async with db.public.begin() as conn:  # the old key's last tokens have expired
        await conn.execute(
            signing_key.update()
            .where(signing_key.c.kid == old_kid)
            .values(retired_at=sa.text("now() - interval '1 hour'"))
        )
    await services.keys.load()
    assert error_codes(await gql(client, host, before)) == {"UNAUTHENTICATED"}
    assert not error_codes(await gql(client, host, after))


async def test_national_token_works_on_the_national_host_only(app, db, national, make_regency):
    application, client = app
    tenant = await make_regency()
    token = await machine_token(db, application, BASE_DOMAIN, tenant=None, national=True, scopes="stats:read")
    viewer = await gql(client, BASE_DOMAIN, token, "{ viewer { scopes } }")
    assert viewer["data"]["viewer"]["scopes"] == ["stats:read"]
    assert error_codes(await gql(client, f"{tenant.slug}.{BASE_DOMAIN}", token, "{ viewer { name } }")) == {
        "FORBIDDEN"
    }
