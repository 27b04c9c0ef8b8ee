"""OAuth clients and staff accounts: creation (secrets shown once), listing, revocation.

Clients are bound to one tenant or to the national scope; the token's audience follows from it.
Staff users hold memberships: a role in a tenant (and a unit for unit officers).
"""

from __future__ import annotations

import re
import secrets as random
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlparse

import sqlalchemy as sa
from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.auth.hashing import ClientSecretHasher, hash_secret, verify_secret
from lapor.auth.roles import NATIONAL_ROLES, ROLE_SCOPES, Role, unknown_scopes
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.platform.public_tables import membership, oauth_client, refresh_token, staff_user
from lapor.platform.public_tables import tenant as tenant_table
from lapor.platform.secrets import Secrets, load_secrets
from lapor.tenants.records import TenantKind

NATIONAL_AUDIENCE = "national"
GRANT_TYPES = frozenset({"client_credentials", "authorization_code", "refresh_token"})
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Client(ClientMixin):
    """An OAuth client as Authlib needs it."""

    client_id: str
    name: str
    tenant_slug: str | None
    national: bool
    secret_hash: str | None
    grant_types: tuple[str, ...]
    scopes: frozenset[str]
    redirect_uris: tuple[str, ...]
    revoked: bool
    secret_check: Callable[[Client, str], bool] | None = field(default=None, compare=False, repr=False)
    """Set by the authorization server (it holds the HMAC key); without it no secret verifies."""

    @property
    def audience(self) -> str:
        return NATIONAL_AUDIENCE if self.national else str(self.tenant_slug)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(sorted(self.scopes))
        return " ".join(sorted(s for s in scope.split() if s in self.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return (
            self.secret_hash is not None
            and self.secret_check is not None
            and self.secret_check(self, client_secret)
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.secret_hash is None:  # a public client (PKCE): no secret to present
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def as_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "name": self.name,
            "tenant": self.tenant_slug,
            "national": self.national,
            "audience": self.audience,
            "grant_types": list(self.grant_types),
            "scopes": sorted(self.scopes),
            "redirect_uris": list(self.redirect_uris),
            "public": self.secret_hash is None,
            "revoked": self.revoked,
        }


_CLIENT_QUERY = sa.select(oauth_client, tenant_table.c.slug.label("tenant_slug")).select_from(
    oauth_client.outerjoin(tenant_table, tenant_table.c.id == oauth_client.c.tenant_id)
)


def _client(row: sa.Row) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        tenant_slug=row.tenant_slug,
        national=row.national,
        secret_hash=row.secret_hash,
        grant_types=tuple(row.grant_types),
        scopes=frozenset(row.scopes),
        redirect_uris=tuple(row.redirect_uris),
        revoked=row.revoked_at is not None,
    )


def load_client_sync(conn: Connection, client_id: str) -> Client | None:
    """For Authlib (synchronous, in a worker thread): an unrevoked client or ``None``."""
    row = conn.execute(
        _CLIENT_QUERY.where(oauth_client.c.client_id == client_id, oauth_client.c.revoked_at.is_(None))
    ).first()
    return _client(row) if row else None


def _check_redirect_uri(uri: str) -> str:
    parsed = urlparse(uri)
    local = parsed.hostname in {"localhost", "127.0.0.1", "::1"} or (parsed.hostname or "").endswith(
        ".localhost"
    )
    if parsed.scheme == "https" or (parsed.scheme == "http" and local):
        if parsed.fragment:
            raise DomainError("INVALID_REDIRECT_URI", f"{uri!r} must not have a fragment", "redirect_uri")
        return uri
    raise DomainError(
        "INVALID_REDIRECT_URI", f"{uri!r} must be https (http only on localhost)", "redirect_uri"
    )


async def create_client(
    db: Database,
    *,
    name: str,
    scopes: frozenset[str],
    tenant_slug: str | None = None,
    national: bool = False,
    grant_types: tuple[str, ...] = ("client_credentials",),
    redirect_uris: tuple[str, ...] = (),
    public: bool = False,
    secrets: Secrets | None = None,
) -> tuple[Client, str | None]:
    """Register a client; returns it with its secret (``None`` for a public client), shown once.

    The secret is stored as an HMAC keyed from the platform secret (``secrets``, else loaded
    from the settings the way every API process loads it).
    """
    if national == (tenant_slug is not None):
        raise DomainError("INVALID_AUDIENCE", "a client belongs to exactly one tenant or to --national")
    name = " ".join(name.split())
    if not 2 <= len(name) <= 200:
        raise DomainError("INVALID_INPUT", "name must have 2 to 200 characters", "name")
    if not scopes or unknown_scopes(scopes):
        raise DomainError(
            "INVALID_SCOPE", f"unknown or no scopes: {sorted(unknown_scopes(scopes))}", "scopes"
        )
    grants = tuple(dict.fromkeys(grant_types))
    if not grants or set(grants) - GRANT_TYPES:
        raise DomainError("INVALID_GRANT_TYPE", f"grant types must be among {sorted(GRANT_TYPES)}", "grant")
    if public and "client_credentials" in grants:
        raise DomainError("INVALID_GRANT_TYPE", "a public client cannot use client_credentials", "grant")
    uris = tuple(_check_redirect_uri(uri) for uri in redirect_uris)
    if "authorization_code" in grants and not uris:
        raise DomainError("INVALID_REDIRECT_URI", "authorization_code needs a --redirect-uri", "redirect_uri")
    secret = None if public else random.token_urlsafe(32)
    client_id = "lapor_" + random.token_urlsafe(16)
    async with db.public.begin() as conn:
        tenant_id = None
        if tenant_slug is not None:
            tenant_id = await conn.scalar(
                sa.select(tenant_table.c.id).where(tenant_table.c.slug == tenant_slug)
            )
            if tenant_id is None:
                raise DomainError("UNKNOWN_TENANT", f"no tenant with slug {tenant_slug!r}", "tenant")
        else:
            national_exists = await conn.scalar(
                sa.select(tenant_table.c.id).where(tenant_table.c.kind == TenantKind.NATIONAL.value)
            )
            if national_exists is None:
                raise DomainError("UNKNOWN_TENANT", "there is no NATIONAL tenant yet", "national")
        await conn.execute(
            oauth_client.insert().values(
                client_id=client_id,
                name=name,
                tenant_id=tenant_id,
                national=national,
                secret_hash=_client_hasher(db, secrets).hash(secret) if secret else None,
                grant_types=list(grants),
                scopes=sorted(scopes),
                redirect_uris=list(uris),
            )
        )
        row = (await conn.execute(_CLIENT_QUERY.where(oauth_client.c.client_id == client_id))).one()
    return _client(row), secret


def _client_hasher(db: Database, secrets: Secrets | None) -> ClientSecretHasher:
    return ClientSecretHasher((secrets or load_secrets(db.settings)).client_secret_key)


async def list_clients(db: Database) -> list[Client]:
    async with db.public.connect() as conn:
        rows = await conn.execute(_CLIENT_QUERY.order_by(oauth_client.c.created_at))
        return [_client(row) for row in rows]


async def revoke_client(db: Database, client_id: str) -> Client:
    async with db.public.begin() as conn:
        done = await conn.execute(
            oauth_client.update()
            .where(oauth_client.c.client_id == client_id, oauth_client.c.revoked_at.is_(None))
            .values(revoked_at=sa.func.now())
        )
        if done.rowcount == 0:
            raise DomainError("UNKNOWN_CLIENT", f"no active client {client_id!r}", "client_id")
        row = (await conn.execute(_CLIENT_QUERY.where(oauth_client.c.client_id == client_id))).one()
    return _client(row)


# --- staff users -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    name: str
    disabled: bool

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "disabled": self.disabled}


@dataclass(frozen=True)
class Membership:
    tenant_slug: str
    tenant_kind: TenantKind
    role: Role
    unit_id: int | None

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role]


def _email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise DomainError("INVALID_EMAIL", f"{value!r} is not an e-mail address", "email")
    return email


async def create_user(db: Database, email: str, name: str, password: str) -> StaffUser:
    address = _email(email)
    if len(password) < MIN_PASSWORD:
        raise DomainError("WEAK_PASSWORD", f"a password needs at least {MIN_PASSWORD} characters", "password")
    clean_name = " ".join(name.split())
    if not 2 <= len(clean_name) <= 200:
        raise DomainError("INVALID_INPUT", "name must have 2 to 200 characters", "name")
    try:
        async with db.public.begin() as conn:
            row = (
                await conn.execute(
                    staff_user.insert()
                    .values(email=address, name=clean_name, password_hash=hash_secret(password))
                    .returning(staff_user)
                )
            ).one()
    except IntegrityError:
        raise DomainError("DUPLICATE_EMAIL", f"a user with e-mail {address!r} exists", "email") from None
    return StaffUser(row.id, row.email, row.name, disabled=False)


async def _user_id(conn: AsyncConnection, email: str) -> int:
    found = await conn.scalar(sa.select(staff_user.c.id).where(staff_user.c.email == _email(email)))
    if found is None:
        raise DomainError("UNKNOWN_USER", f"no user with e-mail {email!r}", "email")
    return int(found)


async def grant_role(
    db: Database, email: str, tenant_slug: str, role: Role, unit_id: int | None = None
) -> Membership:
    """Give ``email`` a role in a tenant (replacing any earlier one there)."""
    if (role is Role.UNIT_OFFICER) != (unit_id is not None):
        raise DomainError("INVALID_INPUT", "--unit is required for UNIT_OFFICER and only for it", "unit")
    async with db.public.begin() as conn:
        user_id = await _user_id(conn, email)
        tenant = (
            await conn.execute(
                sa.select(tenant_table.c.id, tenant_table.c.kind).where(tenant_table.c.slug == tenant_slug)
            )
        ).first()
        if tenant is None:
            raise DomainError("UNKNOWN_TENANT", f"no tenant with slug {tenant_slug!r}", "tenant")
        if (role in NATIONAL_ROLES) != (tenant.kind == TenantKind.NATIONAL.value):
            raise DomainError("INVALID_ROLE", f"{role.value} belongs to the national tenant only", "role")
        statement = pg_insert(membership).values(
            user_id=user_id, tenant_id=tenant.id, role=role.value, unit_id=unit_id
        )
        before = (
            await conn.execute(
                sa.select(membership.c.role, membership.c.unit_id).where(
                    membership.c.user_id == user_id, membership.c.tenant_id == tenant.id
                )
            )
        ).first()
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "tenant_id"], set_={"role": role.value, "unit_id": unit_id}
            )
        )
        if before is not None and (before.role, before.unit_id) != (role.value, unit_id):
            await revoke_user_refresh_tokens(conn, user_id)
    return Membership(tenant_slug, TenantKind(tenant.kind), role, unit_id)


async def revoke_user_refresh_tokens(conn: AsyncConnection, user_id: int) -> int:
    """End every refresh family of a user whose role, unit or account changed (issue 9 item 2).

    Their access tokens live on for at most ``ACCESS_TOKEN_SECONDS`` (10 minutes): their ids are
    not stored, so they cannot be listed for the revocation store.
    """
    done = await conn.execute(
        refresh_token.update()
        .where(refresh_token.c.user_id == user_id, refresh_token.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.now())
    )
    return int(done.rowcount or 0)


async def set_user_disabled(db: Database, email: str, disabled: bool) -> StaffUser:
    async with db.public.begin() as conn:
        user_id = await _user_id(conn, email)
        row = (
            await conn.execute(
                staff_user.update()
                .where(staff_user.c.id == user_id)
                .values(disabled_at=sa.func.now() if disabled else None)
                .returning(staff_user)
            )
        ).one()
        if disabled:
            await revoke_user_refresh_tokens(conn, user_id)
    return StaffUser(row.id, row.email, row.name, disabled=row.disabled_at is not None)


def authenticate_sync(conn: Connection, email: str, password: str) -> StaffUser | None:
    """For the login form (in a worker thread): the user if the password is right and active."""
    row = conn.execute(sa.select(staff_user).where(staff_user.c.email == email.strip().lower())).first()
    if not verify_secret(row.password_hash if row else None, password) or row is None:
        return None
    if row.disabled_at is not None:
        return None
    conn.execute(staff_user.update().where(staff_user.c.id == row.id).values(last_login_at=sa.func.now()))
    return StaffUser(row.id, row.email, row.name, disabled=False)


def membership_sync(conn: Connection, user_id: int, tenant_slug: str) -> Membership | None:
    row = conn.execute(
        sa.select(membership.c.role, membership.c.unit_id, tenant_table.c.slug, tenant_table.c.kind)
        .select_from(membership.join(tenant_table, tenant_table.c.id == membership.c.tenant_id))
        .join(staff_user, staff_user.c.id == membership.c.user_id)
        .where(
            membership.c.user_id == user_id,
            tenant_table.c.slug == tenant_slug,
            staff_user.c.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return Membership(row.slug, TenantKind(row.kind), Role(row.role), row.unit_id)
