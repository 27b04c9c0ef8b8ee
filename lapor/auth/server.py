"""The OAuth 2 authorization server: Authlib's grants and endpoints, adapted to Starlette.

Authlib's server is synchronous and framework-neutral. The Starlette routes (routes.py) read the
request body asynchronously, build an ``OAuthRequest`` from it, and run the server in a worker
thread; the callbacks below use a small synchronous engine. Nothing here parses or signs a token
by hand: RFC 6749 grants, RFC 7636 PKCE (S256 only, required), RFC 7009 revocation, RFC 7662
introspection and RFC 9068 JWT access tokens are Authlib's.
"""

from __future__ import annotations

import datetime as dt
import secrets as random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.errors import JoseError
from redis.asyncio import Redis

from lapor.auth.accounts import Client, Membership, load_client_sync, membership_sync
from lapor.auth.hashing import ClientSecretHasher, token_digest
from lapor.auth.issuers import HostResolver, Issuers
from lapor.auth.keys import ALGORITHM, SigningKeys
from lapor.auth.login_throttle import LoginThrottle
from lapor.auth.nonces import Nonces
from lapor.auth.roles import ALL_SCOPES, ROLE_SCOPES
from lapor.platform.db import Database
from lapor.platform.public_tables import authorization_code, oauth_client, refresh_token, staff_user
from lapor.platform.secrets import Secrets
from lapor.settings import Settings
from lapor.tenants.records import Tenant, TenantKind

ACCESS_TOKEN_SECONDS = 600
REFRESH_TOKEN_DAYS = 30
CODE_SECONDS = 120
T = TypeVar("T")


# --- the host a request came to --------------------------------------------------------------


@dataclass(frozen=True)
class HostContext:
    """The tenant resolved from the request's host, and that host's issuer identifier."""

    tenant: Tenant
    issuer: str

    def serves(self, client: Client) -> bool:
        """A tenant's clients only on the tenant's hosts; national clients only on the national host."""
        if client.national:
            return self.tenant.kind is TenantKind.NATIONAL
        return client.tenant_slug == self.tenant.slug


_host: ContextVar[HostContext] = ContextVar("lapor_oauth_host")


def run_for_host(host: HostContext, function: Callable[..., T], *args: Any) -> T:
    """Run Authlib's synchronous ``function`` (in a worker thread) knowing the request's host."""
    token = _host.set(host)
    try:
        return function(*args)
    finally:
        _host.reset(token)


# --- requests --------------------------------------------------------------------------------


class _Payload(OAuth2Payload):
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._values = values

    @property
    def data(self) -> dict[str, str]:
        return dict(self._values)

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        grouped: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in self._values:
            grouped[key].append(value)
        return grouped


class OAuthRequest(OAuth2Request):
    """An Authlib request built from an already-read Starlette request."""

    def __init__(
        self, method: str, uri: str, headers: Mapping[str, str], query: list[tuple[str, str]],
        form: list[tuple[str, str]],
    ) -> None:  # fmt: skip
        super().__init__(method=method, uri=uri, headers=headers)
        self._query = dict(query)
        self._form = dict(form)
        self.payload = _Payload(query + form)
        self.revoked_access_tokens: list[dict[str, Any]] = []

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


# --- principals and stored credentials ------------------------------------------------------


@dataclass(frozen=True)
class StaffPrincipal:
    user_id: int
    name: str
    membership: Membership
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_user_id(self) -> str:
        return f"user:{self.user_id}"


@dataclass(frozen=True)
class StoredCode:
    code_hash: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    auth_time: dt.datetime

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())


@dataclass(frozen=True)
class StoredRefreshToken:
    token_hash: str
    family_id: str
    client_id: str
    user_id: int | None
    scope: str
    expires_at: dt.datetime
    revoked: bool

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at - dt.datetime.now(dt.UTC)).total_seconds())

    def is_expired(self) -> bool:
        return self.expires_at <= dt.datetime.now(dt.UTC)

    def is_revoked(self) -> bool:
        return self.revoked


def _principal(conn: sa.Connection, user_id: int, client: Client) -> StaffPrincipal | None:
    """The user as seen by ``client``'s tenant: needs an active account and a membership there."""
    if client.tenant_slug is None and not client.national:
        return None
    row = conn.execute(
        sa.select(staff_user.c.name).where(staff_user.c.id == user_id, staff_user.c.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    tenant_slug = client.tenant_slug or _national_slug(conn)
    found = membership_sync(conn, user_id, tenant_slug) if tenant_slug else None
    return StaffPrincipal(user_id, row.name, found) if found else None


def _national_slug(conn: sa.Connection) -> str | None:
    return conn.scalar(sa.text("SELECT slug FROM public.tenant WHERE kind = 'NATIONAL'"))


def _scope_for(requested: str, client: Client, principal: StaffPrincipal | None) -> str:
    """What a token may carry: asked for, allowed to the client, and (for staff) to the role."""
    allowed = set(client.get_allowed_scope(requested).split())
    if principal is not None:
        allowed &= ROLE_SCOPES[principal.membership.role]
    return " ".join(sorted(allowed))


def refreshed_scope(requested: str, stored: str, client: Client, principal: object) -> str:
    """A refresh carries what was granted, still allowed to the client and to the user's role now.

    Issue 9 item 2: without the last two, a demoted admin's refresh tokens kept ``tenant:admin``.
    """
    granted = set(stored.split())
    wanted = set(requested.split()) if requested else granted
    allowed = wanted & granted & client.scopes
    if isinstance(principal, StaffPrincipal):
        allowed &= ROLE_SCOPES[principal.membership.role]
    if not allowed:
        raise InvalidScopeError("nothing of the granted scope is still allowed; sign in again")
    return " ".join(sorted(allowed))


# --- grants ----------------------------------------------------------------------------------


class S256Only(CodeChallenge):
    """PKCE for every client, and only S256: 'plain' gives an eavesdropper the verifier.

    Authlib's ``CodeChallenge(required=True)`` only insists for public clients and accepts a
    missing method as 'plain'; here a challenge and ``S256`` are always required.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - Authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge and code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: OAuthRequest) -> None:
        principal: StaffPrincipal = request.user
        client: Client = request.client
        with self.server.db.sync_public.begin() as conn:
            conn.execute(
                authorization_code.insert().values(
                    code_hash=token_digest(code),
                    client_id=client.client_id,
                    user_id=principal.user_id,
                    redirect_uri=request.payload.redirect_uri or client.get_default_redirect_uri(),
                    scope=_scope_for(request.payload.scope or "", client, principal),
                    code_challenge=request.payload.data.get("code_challenge"),
                    code_challenge_method=request.payload.data.get("code_challenge_method", "S256"),
                    auth_time=dt.datetime.fromtimestamp(principal.auth_time, dt.UTC),
                    expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=CODE_SECONDS),
                )
            )

    def query_authorization_code(self, code: str, client: Client) -> StoredCode | None:
        with self.server.db.sync_public.connect() as conn:
            row = conn.execute(
                sa.select(authorization_code).where(
                    authorization_code.c.code_hash == token_digest(code),
                    authorization_code.c.client_id == client.client_id,
                    authorization_code.c.used_at.is_(None),
                    authorization_code.c.expires_at > sa.func.now(),
                )
            ).first()
        if row is None:
            return None
        return StoredCode(
            row.code_hash, row.client_id, row.user_id, row.redirect_uri, row.scope, row.code_challenge,
            row.code_challenge_method, row.auth_time,
        )  # fmt: skip

    def delete_authorization_code(self, code: StoredCode) -> None:
        with self.server.db.sync_public.begin() as conn:
            conn.execute(
                authorization_code.update()
                .where(authorization_code.c.code_hash == code.code_hash)
                .values(used_at=sa.func.now())
            )

    def authenticate_user(self, code: StoredCode) -> StaffPrincipal | None:
        with self.server.db.sync_public.connect() as conn:
            return _principal(conn, code.user_id, self.request.client)


class RotatingRefreshGrant(RefreshTokenGrant):
    """Each refresh token works once; presenting a used one revokes its whole family (RFC 9700)."""

    INCLUDE_NEW_REFRESH_TOKEN = True
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def authenticate_refresh_token(self, value: str) -> StoredRefreshToken | None:
        with self.server.db.sync_public.begin() as conn:
            row = conn.execute(
                sa.select(refresh_token).where(refresh_token.c.token_hash == token_digest(value))
            ).first()
            if row is None:
                return None
            if row.rotated_at is not None or row.revoked_at is not None:
                conn.execute(
                    refresh_token.update()
                    .where(refresh_token.c.family_id == row.family_id, refresh_token.c.revoked_at.is_(None))
                    .values(revoked_at=sa.func.now())
                )
                return None
            if row.expires_at <= dt.datetime.now(dt.UTC):
                return None
        return StoredRefreshToken(
            row.token_hash, row.family_id, row.client_id, row.user_id, row.scope, row.expires_at, False
        )

    def authenticate_user(self, token: StoredRefreshToken) -> StaffPrincipal | Client | None:
        if token.user_id is None:
            return self.request.client
        with self.server.db.sync_public.connect() as conn:
            return _principal(conn, token.user_id, self.request.client)

    def issue_token(self, user: Any, refresh_token: StoredRefreshToken) -> dict[str, Any]:
        scope = refreshed_scope(
            self.request.payload.scope or "", refresh_token.get_scope(), self.request.client, user
        )
        return self.generate_token(
            user=user, scope=scope, include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN
        )

    def revoke_old_credential(self, token: StoredRefreshToken) -> None:
        with self.server.db.sync_public.begin() as conn:
            done = conn.execute(
                refresh_token.update()
                .where(refresh_token.c.token_hash == token.token_hash, refresh_token.c.rotated_at.is_(None))
                .values(rotated_at=sa.func.now())
            )
            if done.rowcount == 0:  # a concurrent use of the same token: treat as reuse
                conn.execute(
                    refresh_token.update()
                    .where(refresh_token.c.family_id == token.family_id)
                    .values(revoked_at=sa.func.now())
                )


class LaporClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012


# --- tokens ----------------------------------------------------------------------------------


class AccessTokens(JWTBearerTokenGenerator):
    """RFC 9068 access tokens: audience = the client's tenant slug (or ``national``)."""

    def __init__(self, keys: SigningKeys, issuer: str) -> None:
        super().__init__(
            issuer=issuer,
            alg=ALGORITHM,
            refresh_token_generator=lambda *_args, **_kw: random.token_urlsafe(48),
            expires_generator=lambda *_args, **_kw: ACCESS_TOKEN_SECONDS,
        )
        self.keys = keys

    def get_jwks(self) -> Any:
        return self.keys.signing_keyset()

    def get_audiences(self, client: Client, user: object, scope: str) -> str:
        return client.audience

    def get_auth_time(self, user: object) -> int | None:
        return user.auth_time if isinstance(user, StaffPrincipal) else None

    def get_extra_claims(self, client: Client, grant_type: str, user: object, scope: str) -> dict[str, Any]:
        claims: dict[str, Any] = {"iss": _host.get().issuer}  # the host's issuer (issuers.py)
        if isinstance(user, StaffPrincipal):
            claims.update(role=user.membership.role.value, name=user.name)
            if user.membership.unit_id is not None:
                claims["unit"] = user.membership.unit_id
            return claims
        claims["name"] = client.name
        return claims


# --- endpoints -------------------------------------------------------------------------------


def _decode_access_token(server: LaporAuthorizationServer, value: str) -> dict[str, Any] | None:
    """Claims of an access token we signed that is still valid (signature, type, expiry).

    Whether its issuer belongs to its audience is asked by the route afterwards (it needs the
    asynchronous host directory): ``Issuers.accepts``.
    """
    try:
        decoded = jwt.decode(value, server.keys.verifying_snapshot())
    except (JoseError, ValueError):
        return None
    claims = dict(decoded.claims)
    if decoded.header.get("typ") != "at+jwt" or int(claims.get("exp", 0)) <= time.time():
        return None
    if urlsplit(str(claims.get("iss", ""))).scheme != server.issuers.scheme:
        return None
    return claims


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def query_token(self, value: str, hint: str | None) -> Any:
        if hint != "refresh_token":
            claims = _decode_access_token(self.server, value)
            if claims is not None:
                return claims
        with self.server.db.sync_public.connect() as conn:
            row = conn.execute(
                sa.select(refresh_token).where(refresh_token.c.token_hash == token_digest(value))
            ).first()
        return row

    def check_permission(self, token: Any, client: Client) -> bool:
        owner = token.get("client_id") if isinstance(token, dict) else token.client_id
        return owner == client.client_id

    def authenticate_token(self, request: OAuthRequest, client: Client) -> Any:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        return token if token is not None and self.check_permission(token, client) else None

    def revoke_token(self, token: Any, request: OAuthRequest) -> None:
        if isinstance(token, dict):  # an access token: its jti goes to the revocation list
            request.revoked_access_tokens.append(token)
            return
        with self.server.db.sync_public.begin() as conn:
            conn.execute(
                refresh_token.update()
                .where(refresh_token.c.family_id == token.family_id)
                .values(revoked_at=sa.func.now())
            )


class _TokenInfo(dict):
    """Claims of a token as Authlib's introspection expects them (with expiry and revocation)."""

    def is_expired(self) -> bool:
        return int(self.get("exp", 0)) <= time.time()

    def is_revoked(self) -> bool:
        return False  # access tokens: the route asks the revocation list; refresh: filtered below


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def query_token(self, value: str, hint: str | None) -> Any:
        if hint != "refresh_token":
            claims = _decode_access_token(self.server, value)
            if claims is not None:
                return _TokenInfo(type="access_token", **claims)
        with self.server.db.sync_public.connect() as conn:
            row = conn.execute(
                sa.select(refresh_token).where(refresh_token.c.token_hash == token_digest(value))
            ).first()
        if row is None or row.rotated_at or row.revoked_at or row.expires_at <= dt.datetime.now(dt.UTC):
            return None
        return _TokenInfo(
            type="refresh_token", client_id=row.client_id, scope=row.scope,
            exp=int(row.expires_at.timestamp()), iat=int(row.issued_at.timestamp()),
            sub=f"user:{row.user_id}" if row.user_id else row.client_id,
        )  # fmt: skip

    def check_permission(self, token: dict[str, Any], client: Client, request: OAuthRequest) -> bool:
        """A client may introspect its own tokens and those meant for its audience."""
        return token.get("client_id") == client.client_id or token.get("aud") == client.audience

    def introspect_token(self, token: dict[str, Any]) -> dict[str, Any]:
        """Revoked access tokens are reported inactive by the route, which can ask Redis."""
        body = {
            key: token[key]
            for key in ("scope", "client_id", "sub", "aud", "exp", "iat", "jti", "iss")
            if key in token
        }
        body.update(active=True, token_type="Bearer" if token["type"] == "access_token" else "refresh_token")
        for extra in ("role", "unit"):
            if extra in token:
                body[extra] = token[extra]
        return body


class LaporAuthorizationServer(AuthorizationServer):
    def __init__(
        self, db: Database, keys: SigningKeys, issuers: Issuers, client_secrets: ClientSecretHasher,
        redis: Redis | None = None,
    ) -> None:  # fmt: skip
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self.db = db
        self.keys = keys
        self.issuers = issuers
        self.client_secrets = client_secrets
        self.login_throttle = LoginThrottle(redis)
        self.csrf_nonces = Nonces(redis, "login-csrf")
        self.register_grant(LaporClientCredentials)
        self.register_grant(CodeGrant, [S256Only(required=True)])
        self.register_grant(RotatingRefreshGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        # The issuer given here is replaced per request by the host's (get_extra_claims).
        self.register_token_generator("default", AccessTokens(keys, f"{issuers.scheme}://invalid"))

    @classmethod
    def for_platform(
        cls, db: Database, keys: SigningKeys, settings: Settings, secrets: Secrets, hosts: HostResolver,
        redis: Redis | None,
    ) -> LaporAuthorizationServer:  # fmt: skip
        scheme = urlsplit(settings.oauth_issuer).scheme or "https"
        return cls(db, keys, Issuers(hosts, scheme), ClientSecretHasher(secrets.client_secret_key), redis)

    def query_client(self, client_id: str) -> Client | None:
        """The client, if it is active and belongs to the tenant of the request's host (item 15)."""
        with self.db.sync_public.connect() as conn:
            client = load_client_sync(conn, client_id)
        if client is None or not _host.get().serves(client):
            return None
        return replace(client, secret_check=self._check_secret)

    def _check_secret(self, client: Client, candidate: str) -> bool:
        """HMAC for current secrets; a legacy argon2 hash verifies (bounded) and is replaced."""
        if client.secret_hash is None:
            return False
        ok, upgraded = self.client_secrets.verify(client.secret_hash, candidate)
        if ok and upgraded is not None:
            with self.db.sync_public.begin() as conn:
                conn.execute(
                    oauth_client.update()
                    .where(oauth_client.c.client_id == client.client_id)
                    .values(secret_hash=upgraded)
                )
        return ok

    def save_token(self, token: dict[str, Any], request: OAuthRequest) -> None:
        value = token.get("refresh_token")
        if not value:
            return
        previous = request.refresh_token
        principal = request.user if isinstance(request.user, StaffPrincipal) else None
        with self.db.sync_public.begin() as conn:
            conn.execute(
                refresh_token.insert().values(
                    token_hash=token_digest(value),
                    family_id=previous.family_id if previous is not None else uuid.uuid4().hex,
                    client_id=request.client.client_id,
                    user_id=principal.user_id if principal else None,
                    scope=token.get("scope", ""),
                    expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=REFRESH_TOKEN_DAYS),
                )
            )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def create_json_request(self, request: OAuthRequest) -> OAuthRequest:
        return request

    def handle_response(
        self, status: int, body: Any, headers: list[tuple[str, str]]
    ) -> tuple[int, Any, list]:
        return status, body, headers

    def metadata(self, issuer: str) -> dict[str, Any]:
        """RFC 8414 metadata of one host's issuer (served at /.well-known/oauth-authorization-server)."""
        base = issuer.rstrip("/")
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "introspection_endpoint": f"{base}/oauth/introspect",
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "scopes_supported": sorted(ALL_SCOPES),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        }
