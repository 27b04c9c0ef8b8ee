"""Issue 9 items 2, 4, 5, 15, 16, 18, 19 and the bearer test gap: the OAuth server under attack.

Every test drives the real app (real PostgreSQL; Redis where the item shares state through it)
in the words of the outside review's reproduction.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
import uuid
import warnings
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from joserfc import jwt
from redis.asyncio import Redis
from typer.testing import CliRunner

from lapor.auth import hashing
from lapor.auth.accounts import create_client, set_user_disabled
from lapor.auth.login_throttle import PAIR_THRESHOLD, LoginThrottle
from lapor.auth.nonces import Nonces
from lapor.auth.roles import Role
from lapor.cli.main import app as cli_app
from lapor.platform.public_tables import membership, oauth_client, staff_user
from lapor.platform.public_tables import tenant as tenant_table
from lapor.schema.common import global_id
from lapor.tenants.records import TenantStatus
from lapor.tenants.registry import set_status
from tests.apps import running_app
from tests.conftest import BASE_DOMAIN
from tests.oauth_helpers import REDIRECT, machine_token, staff_account, user_token

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

ADMIN_SCOPES = "complaints:read reporters:read stats:read tenant:admin"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
async def app(settings):
    async with running_app(settings) as (application, client):
        yield application, client


def host_of(slug: str) -> str:
    return f"{slug}.{BASE_DOMAIN}"


def claims_of(application, token: str) -> dict:
    return dict(jwt.decode(token, application.state.services.keys.verifying_snapshot()).claims)


async def gql(client: httpx.AsyncClient, host: str, token: str, query: str) -> dict:
    response = await client.post(
        "/graphql", json={"query": query}, headers={"host": host, "authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def codes(body: dict) -> set[str]:
    return {e["extensions"]["code"] for e in body.get("errors") or []}


async def form_fields(client: httpx.AsyncClient, url: str, host: str) -> dict[str, str]:
    page = await client.get(url, headers={"host": host})
    assert page.status_code == 200, page.text
    return {k: v.replace("&amp;", "&").replace("&quot;", '"') for k, v in HIDDEN.findall(page.text)}


async def post_login(client, host: str, fields: dict[str, str], email: str, password: str) -> httpx.Response:
    data = {**fields, "email": email, "password": password, "decision": "approve"}
    return await client.post(f"http://{host}/oauth/authorize", data=data, headers={"host": host})


async def staff_app(db, tenant_slug: str, scopes: str = ADMIN_SCOPES):
    return await create_client(
        db, name="Aplikasi Staf", scopes=frozenset(scopes.split()), tenant_slug=tenant_slug,
        grant_types=("authorization_code", "refresh_token"), redirect_uris=(REDIRECT,),
    )  # fmt: skip


def oauth_for(application, registered, secret, scope: str = ADMIN_SCOPES) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        registered.client_id, secret, scope=scope, redirect_uri=REDIRECT, code_challenge_method="S256",
        transport=httpx.ASGITransport(app=application),
    )  # fmt: skip


async def sign_in(oauth: AsyncOAuth2Client, client, host: str, email: str, password: str) -> dict:
    verifier = secrets.token_urlsafe(48)
    url, _state = oauth.create_authorization_url(f"http://{host}/oauth/authorize", code_verifier=verifier)
    answer = await post_login(client, host, await form_fields(client, url, host), email, password)
    assert answer.status_code == 302, answer.text
    return await oauth.fetch_token(
        f"http://{host}/oauth/token", authorization_response=answer.headers["location"], code_verifier=verifier
    )


def cli(settings, *args: str):
    env = {"LAPOR_DATABASE_URL": settings.database_url, "LAPOR_BASE_DOMAIN": BASE_DOMAIN, "LAPOR_REDIS_URL": ""}
    return CliRunner().invoke(cli_app, list(args), env=env, catch_exceptions=False)


# --- item 2: refresh tokens follow the user's current role -----------------------------------


async def test_demoted_admin_cannot_refresh_into_admin_scopes(app, db, settings, make_regency):
    """Demote a TENANT_ADMIN to VIEWER with `lapor users grant`: the refresh is refused."""
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, password = await staff_account(db, tenant.slug, Role.TENANT_ADMIN)
    registered, secret = await staff_app(db, tenant.slug)
    async with oauth_for(application, registered, secret) as oauth:
        token = await sign_in(oauth, client, host, email, password)
        assert {"tenant:admin", "reporters:read"} <= set(token["scope"].split())
        demoted = await asyncio.to_thread(
            cli, settings, "users", "grant", email, "--tenant", tenant.slug, "--role", "VIEWER", "--json"
        )
        assert demoted.exit_code == 0, demoted.output
        with pytest.raises(OAuthError):
            await oauth.refresh_token(f"http://{host}/oauth/token", refresh_token=token["refresh_token"])


async def test_refresh_scope_is_capped_by_the_current_role(app, db, make_regency):
    """A role changed without revoking (e.g. by SQL): the next refresh still drops what the role lost."""
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, password = await staff_account(db, tenant.slug, Role.TENANT_ADMIN)
    registered, secret = await staff_app(db, tenant.slug)
    async with oauth_for(application, registered, secret) as oauth:
        token = await sign_in(oauth, client, host, email, password)
        async with db.public.begin() as conn:
            user_id = await conn.scalar(sa.select(staff_user.c.id).where(staff_user.c.email == email))
            await conn.execute(
                membership.update().where(membership.c.user_id == user_id).values(role=Role.VIEWER.value)
            )
        renewed = await oauth.refresh_token(f"http://{host}/oauth/token", refresh_token=token["refresh_token"])
    assert set(renewed["scope"].split()) == {"complaints:read", "stats:read"}
    claims = claims_of(application, renewed["access_token"])
    assert claims["role"] == "VIEWER" and "tenant:admin" not in claims["scope"]


async def test_disabling_a_user_ends_their_refresh_families(app, db, make_regency):
    """`lapor users disable` then re-enable: the refresh tokens issued before stay dead."""
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, password = await staff_account(db, tenant.slug, Role.TRIAGE_OFFICER)
    registered, secret = await staff_app(db, tenant.slug, "complaints:read")
    async with oauth_for(application, registered, secret, "complaints:read") as oauth:
        token = await sign_in(oauth, client, host, email, password)
        await set_user_disabled(db, email, True)
        await set_user_disabled(db, email, False)
        with pytest.raises(OAuthError):
            await oauth.refresh_token(f"http://{host}/oauth/token", refresh_token=token["refresh_token"])


# --- item 4: the login form is limited ------------------------------------------------------


async def test_wrong_passwords_slow_down_the_account_then_the_right_one_waits(app, db, make_regency):
    """Wrong passwords in a row, then the right one: refused with a clear wait message (429), no lock
    for the owner at another address."""
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, password = await staff_account(db, tenant.slug, Role.VIEWER)
    registered, secret = await staff_app(db, tenant.slug, "complaints:read")
    url = (
        f"http://{host}/oauth/authorize?response_type=code&client_id={registered.client_id}"
        f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    fields = await form_fields(client, url, host)
    for _ in range(PAIR_THRESHOLD):
        wrong = await post_login(client, host, fields, email, "salah-sekali-123")
        assert wrong.status_code == 401, wrong.text
        fields = {k: v.replace("&amp;", "&") for k, v in HIDDEN.findall(wrong.text)}  # the fresh token
    right = await post_login(client, host, fields, email, password)
    assert right.status_code == 429 and "location" not in right.headers
    assert "coba lagi dalam" in right.text and "try again in" in right.text
    assert int(right.headers["retry-after"]) >= 1
    owner = httpx.AsyncClient(transport=httpx.ASGITransport(app=application, client=("10.9.8.7", 5000)))
    async with owner, oauth_for(application, registered, secret, "complaints:read") as oauth:
        assert (await sign_in(oauth, owner, host, email, password))["access_token"]


async def test_login_form_tokens_work_once_and_only_with_their_cookie(app, db, make_regency):
    """One CSRF token no longer serves every guess: a replay is refused, and so is a post without
    the browser's cookie."""
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, _password = await staff_account(db, tenant.slug, Role.VIEWER)
    registered, _secret = await staff_app(db, tenant.slug, "complaints:read")
    url = (
        f"http://{host}/oauth/authorize?response_type=code&client_id={registered.client_id}"
        f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    fields = await form_fields(client, url, host)
    assert (await post_login(client, host, fields, email, "salah-sekali-123")).status_code == 401
    replay = await post_login(client, host, fields, email, "salah-lagi-12345")
    assert replay.status_code == 400 and "sudah dikirim" in replay.text
    fresh = await form_fields(client, url, host)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application)) as cookieless:
        forged = await post_login(cookieless, host, fresh, email, "salah-sekali-123")
    assert forged.status_code == 400 and "kedaluwarsa" in forged.text


async def test_every_oauth_path_is_limited_per_ip(settings, national):
    """The login form and discovery spend from the per-IP OAuth bucket (only /oauth/token did)."""
    async with running_app(replace(settings, rate_limit_public=3)) as (_app, client):
        for path in ("/.well-known/oauth-authorization-server", "/oauth/authorize", "/oauth/authorize"):
            answer = await client.get(path, headers={"host": BASE_DOMAIN})
            assert answer.status_code != 429, path
        refused = await client.post(
            "/oauth/authorize", data={"email": "a@b.go.id"}, headers={"host": BASE_DOMAIN}
        )
        assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"


async def test_failed_login_counts_are_shared_through_redis(redis_url):
    """Two API processes see the same failures (Redis), so spreading guesses over them gains nothing."""
    email, ip = f"{uuid.uuid4().hex}@example.go.id", "192.0.2.1"
    first, second = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        one, other = LoginThrottle(first), LoginThrottle(second)
        for _ in range(PAIR_THRESHOLD):
            await one.failed(email, ip)
        assert await other.wait_seconds(email, ip) >= 1
        assert await other.wait_seconds(email, "192.0.2.2") == 0, "another address is not delayed"
        await other.succeeded(email, ip)
        assert await one.wait_seconds(email, ip) == 0
        nonce = uuid.uuid4().hex
        assert await Nonces(first, "test-nonce").claim(nonce, 60)
        assert not await Nonces(second, "test-nonce").claim(nonce, 60), "a replay on another process"
    finally:
        await first.aclose()
        await second.aclose()


# --- item 5: argon2 is bounded; client secrets use HMAC --------------------------------------


class _BlockingHasher:
    """Stands in for argon2: counts who is inside, holds them until released."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()
        self.release = threading.Event()

    def __call__(self, stored: str, candidate: str) -> bool:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        self.release.wait(10)
        with self.lock:
            self.inside -= 1
        return False


def _fill_the_gate(monkeypatch) -> tuple[_BlockingHasher, list[threading.Thread]]:
    fake = _BlockingHasher()
    monkeypatch.setattr(hashing, "_argon2_verify", fake)
    monkeypatch.setattr(hashing, "HASH_WAIT_SECONDS", 0.0)
    holders = [
        threading.Thread(target=hashing.verify_secret, args=("$argon2id$x", "guess"))
        for _ in range(hashing.MAX_CONCURRENT_HASHES)
    ]
    for thread in holders:
        thread.start()
    for _ in range(1000):
        if fake.inside == hashing.MAX_CONCURRENT_HASHES:
            break
        time.sleep(0.01)
    assert fake.inside == hashing.MAX_CONCURRENT_HASHES
    return fake, holders


def test_at_most_a_few_password_hashes_run_at_once(monkeypatch):
    fake, holders = _fill_the_gate(monkeypatch)
    try:
        with pytest.raises(hashing.HashingBusy):
            hashing.verify_secret("$argon2id$x", "one more")
        assert fake.most == hashing.MAX_CONCURRENT_HASHES
    finally:
        fake.release.set()
        for thread in holders:
            thread.join()


async def test_login_while_every_hashing_slot_is_taken_is_429(app, db, make_regency, monkeypatch):
    _application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, password = await staff_account(db, tenant.slug, Role.VIEWER)
    registered, _secret = await staff_app(db, tenant.slug, "complaints:read")
    url = (
        f"http://{host}/oauth/authorize?response_type=code&client_id={registered.client_id}"
        f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    fields = await form_fields(client, url, host)
    fake, holders = _fill_the_gate(monkeypatch)
    try:
        busy = await post_login(client, host, fields, email, password)
    finally:
        fake.release.set()
        for thread in holders:
            thread.join()
    assert busy.status_code == 429 and "sibuk" in busy.text and busy.headers["retry-after"]
    assert fake.most == hashing.MAX_CONCURRENT_HASHES


async def test_client_secrets_are_checked_by_hmac_and_old_argon2_ones_upgrade(app, db, make_regency, monkeypatch):
    """40 introspections with a real client id and wrong secrets: not one argon2 run."""
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    registered, secret = await create_client(
        db, name="Gateway SMS", scopes=frozenset({"complaints:read"}), tenant_slug=tenant.slug
    )
    async with db.public.connect() as conn:
        stored = await conn.scalar(
            sa.select(oauth_client.c.secret_hash).where(oauth_client.c.client_id == registered.client_id)
        )
    assert stored.startswith(hashing.HMAC_PREFIX) and secret not in stored
    calls: list[str] = []
    real = hashing._argon2_verify
    monkeypatch.setattr(hashing, "_argon2_verify", lambda s, c: calls.append(c) or real(s, c))
    wrong = httpx.BasicAuth(registered.client_id, "tebakan-" + secrets.token_urlsafe(8))
    answers = await asyncio.gather(*(
        client.post("/oauth/introspect", data={"token": "x"}, auth=wrong, headers={"host": host})
        for _ in range(40)
    ))  # fmt: skip
    assert {a.status_code for a in answers} == {401} and calls == []
    token = await machine_token(db, application, host, tenant=tenant.slug, scopes="complaints:read")
    assert token and calls == []

    async with db.public.begin() as conn:  # a client registered before HMAC: argon2 hash stored
        await conn.execute(
            oauth_client.update()
            .where(oauth_client.c.client_id == registered.client_id)
            .values(secret_hash=hashing.hash_secret(secret))
        )
    async with AsyncOAuth2Client(
        registered.client_id, secret, transport=httpx.ASGITransport(app=application)
    ) as oauth:
        assert (await oauth.fetch_token(f"http://{host}/oauth/token", grant_type="client_credentials"))[
            "access_token"
        ]
    assert calls == [secret], "the old hash verified once, with argon2"
    async with db.public.connect() as conn:
        upgraded = await conn.scalar(
            sa.select(oauth_client.c.secret_hash).where(oauth_client.c.client_id == registered.client_id)
        )
    assert upgraded.startswith(hashing.HMAC_PREFIX)


# --- item 15: OAuth endpoints resolve the host ----------------------------------------------


async def test_oauth_answers_only_on_the_clients_own_active_tenant_host(app, db, national, make_regency):
    application, client = app
    own, other = await make_regency(), await make_regency()
    registered, secret = await create_client(
        db, name="Gateway SMS", scopes=frozenset({"complaints:read"}), tenant_slug=own.slug
    )
    form = {"grant_type": "client_credentials"}
    basic = httpx.BasicAuth(registered.client_id, secret)

    async def token_at(host: str) -> httpx.Response:
        return await client.post("/oauth/token", data=form, auth=basic, headers={"host": host})

    assert (await token_at(host_of(own.slug))).status_code == 200
    unknown = await token_at("nowhere.example.org")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "UNKNOWN_HOST"
    for elsewhere in (host_of(other.slug), BASE_DOMAIN):
        refused = await token_at(elsewhere)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client", elsewhere
    national_client, national_secret = await create_client(
        db, name="Dasbor Nasional", scopes=frozenset({"stats:read"}), national=True
    )
    national_auth = httpx.BasicAuth(national_client.client_id, national_secret)
    on_tenant = await client.post("/oauth/token", data=form, auth=national_auth, headers={"host": host_of(own.slug)})
    assert on_tenant.status_code == 401
    on_national = await client.post("/oauth/token", data=form, auth=national_auth, headers={"host": BASE_DOMAIN})
    assert on_national.status_code == 200

    staff, _staff_secret = await staff_app(db, own.slug, "complaints:read")
    await set_status(db, own.slug, TenantStatus.SUSPENDED, "audit")
    application.state.services.directory.invalidate()
    try:
        suspended = await token_at(host_of(own.slug))
        assert suspended.status_code == 403 and suspended.json()["error"]["code"] == "TENANT_SUSPENDED"
        login_page = await client.get(
            f"/oauth/authorize?response_type=code&client_id={staff.client_id}", headers={"host": host_of(own.slug)}
        )
        assert login_page.status_code == 403
    finally:
        await set_status(db, own.slug, TenantStatus.ACTIVE)
        application.state.services.directory.invalidate()


# --- item 16: security headers on every HTML answer ------------------------------------------

HTML_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def assert_secure_html(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    for name, value in HTML_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert "default-src 'none'" in policy
    assert "<style" not in response.text and "<script" not in response.text and "style=" not in response.text


async def test_every_login_page_answer_carries_the_security_headers(app, db, make_regency):
    _application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    email, _password = await staff_account(db, tenant.slug, Role.VIEWER)
    registered, _secret = await staff_app(db, tenant.slug, "complaints:read")
    url = (
        f"http://{host}/oauth/authorize?response_type=code&client_id={registered.client_id}"
        f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    page = await client.get(url, headers={"host": host})
    assert_secure_html(page)
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    fields = {k: v.replace("&amp;", "&") for k, v in HIDDEN.findall(page.text)}
    wrong = await post_login(client, host, fields, email, "salah-sekali-123")
    assert wrong.status_code == 401
    assert_secure_html(wrong)
    assert_secure_html(await post_login(client, host, fields, email, "salah-sekali-123"))  # replay: 400
    assert_secure_html(await client.get("/oauth/authorize?client_id=nope", headers={"host": host}))
    css = await client.get("/oauth/login.css", headers={"host": host})
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


# --- item 18: per-host issuers, strict RFC 8414 discovery ------------------------------------


def rfc8414_metadata_ok(discovered_from: str, metadata: dict) -> bool:
    """RFC 8414 section 3.3: the issuer in the metadata must equal the issuer discovered from."""
    if metadata.get("issuer") != discovered_from:
        return False
    issuer = urlsplit(discovered_from)
    return all(
        urlsplit(metadata[name]).netloc == issuer.netloc and urlsplit(metadata[name]).scheme == issuer.scheme
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint")
    )


async def test_a_strict_client_discovers_each_tenant_host_as_its_own_issuer(app, db, national, make_regency):
    application, client = app
    tenant = await make_regency()
    for host in (host_of(tenant.slug), BASE_DOMAIN, f"{host_of(tenant.slug)}:8443"):
        issuer = f"http://{host}"
        metadata = (await client.get("/.well-known/oauth-authorization-server", headers={"host": host})).json()
        assert rfc8414_metadata_ok(issuer, metadata), (issuer, metadata["issuer"])
    token = await machine_token(db, application, host_of(tenant.slug), tenant=tenant.slug, scopes="complaints:read")
    assert claims_of(application, token)["iss"] == f"http://{host_of(tenant.slug)}"
    assert not codes(await gql(client, host_of(tenant.slug), token, "{ viewer { name } }"))


# --- the bearer test gap: typ and issuer are checked ------------------------------------------


async def test_tokens_signed_by_our_key_with_a_wrong_typ_or_issuer_are_refused(app, db, make_regency):
    application, client = app
    tenant, other = await make_regency(), await make_regency()
    host = host_of(tenant.slug)
    keys = application.state.services.keys
    real = await machine_token(db, application, host, tenant=tenant.slug, scopes="complaints:read")
    decoded = jwt.decode(real, keys.verifying_snapshot())
    claims = {**decoded.claims, "jti": uuid.uuid4().hex}

    def signed(typ: str = "at+jwt", **changes: object) -> str:
        header = {"alg": "ES256", "typ": typ, "kid": decoded.header["kid"]}
        return jwt.encode(header, {**claims, **changes}, keys.signing_keyset())

    query = "{ viewer { name } }"
    assert not codes(await gql(client, host, signed(), query)), "the forging itself is sound"
    for bad in (
        signed(typ="JWT"),
        signed(iss="https://login.example.org"),
        signed(iss=f"http://{host_of(other.slug)}"),  # our host, but another tenant's issuer
        signed(iss=f"https://{host}"),  # another scheme
        signed(iss=f"http://{host}/evil"),
    ):
        assert codes(await gql(client, host, bad, query)) == {"UNAUTHENTICATED"}
    registered, secret = await create_client(
        db, name="Pemeriksa", scopes=frozenset({"complaints:read"}), tenant_slug=tenant.slug
    )
    auth = httpx.BasicAuth(registered.client_id, secret)
    for token, active in ((signed(), True), (signed(iss=f"http://{host_of(other.slug)}"), False),
                          (signed(typ="JWT"), False)):  # fmt: skip
        answer = await client.post("/oauth/introspect", data={"token": token}, auth=auth, headers={"host": host})
        assert answer.json()["active"] is active


# --- item 19: units by global id -------------------------------------------------------------


async def test_viewer_unit_id_is_the_global_id(app, db, make_regency):
    application, client = app
    tenant = await make_regency()
    host = host_of(tenant.slug)
    token = await user_token(
        db, application, client, host=host, tenant=tenant.slug, role=Role.UNIT_OFFICER,
        scopes="complaints:read", unit_id=7,
    )  # fmt: skip
    body = await gql(client, host, token, "{ viewer { unitId } }")
    assert body["data"]["viewer"]["unitId"] == global_id("Unit", 7)


async def test_users_grant_takes_the_units_global_id(db, settings, make_regency):
    tenant = await make_regency()
    email, _password = await staff_account(db, tenant.slug, Role.VIEWER)
    unit_id = global_id("Unit", 12)
    granted = await asyncio.to_thread(
        cli, settings, "users", "grant", email, "--tenant", tenant.slug, "--role", "UNIT_OFFICER",
        "--unit", unit_id, "--json",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output
    assert '"unit": "' + unit_id + '"' in granted.stdout
    async with db.public.connect() as conn:
        stored = await conn.scalar(
            sa.select(membership.c.unit_id)
            .join(staff_user, staff_user.c.id == membership.c.user_id)
            .join(tenant_table, tenant_table.c.id == membership.c.tenant_id)
            .where(staff_user.c.email == email, tenant_table.c.slug == tenant.slug)
        )
    assert stored == 12
    number = await asyncio.to_thread(
        cli, settings, "users", "grant", email, "--tenant", tenant.slug, "--role", "UNIT_OFFICER", "--unit", "12"
    )
    assert number.exit_code == 0, number.output
    wrong = await asyncio.to_thread(
        cli, settings, "users", "grant", email, "--tenant", tenant.slug, "--role", "UNIT_OFFICER",
        "--unit", global_id("Category", 12), "--json",
    )  # fmt: skip
    assert wrong.exit_code != 0 and "INVALID_INPUT" in wrong.stdout
