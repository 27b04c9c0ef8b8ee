"""The resource side: a bearer token becomes an ``Actor``, verified locally.

No database read per request: the signature is checked against the in-memory keys, revocation
against Redis (or the in-process stand-in). The token's audience must be the host's tenant; a
national token works on the national host, and an Ombudsman's national token may also read any
tenant's complaints (read only, every read audited).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from lapor.auth.accounts import NATIONAL_AUDIENCE
from lapor.auth.issuers import Issuers
from lapor.auth.keys import SigningKeys
from lapor.auth.revocations import Revocations
from lapor.auth.roles import Role
from lapor.platform.errors import DomainError
from lapor.tenants.actors import Actor
from lapor.tenants.enums import ActorKind
from lapor.tenants.records import Tenant, TenantKind

LEEWAY_SECONDS = 30


def _unauthenticated(reason: str) -> DomainError:
    return DomainError("UNAUTHENTICATED", f"invalid access token: {reason}")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise DomainError("UNAUTHENTICATED", "use 'Authorization: Bearer <access token>'")
    return value.strip()


async def verify(
    token: str, keys: SigningKeys, revocations: Revocations, issuers: Issuers | str
) -> dict[str, Any]:
    """The claims of a valid access token, or ``UNAUTHENTICATED`` saying why not.

    Its issuer must be one of our hosts and belong to the tenant the token is for
    (``lapor.auth.issuers``): the signature alone does not say which tenant's server issued it.
    A plain string is one fixed issuer that must match exactly (for callers outside a request).
    """
    kid = _kid(token)
    keyset = await keys.verifying_keyset(kid)
    try:
        decoded = jwt.decode(token, keyset)
    except (JoseError, ValueError):
        raise _unauthenticated("bad signature or format") from None
    header = decoded.header
    claims = dict(decoded.claims)
    if header.get("typ") != "at+jwt":
        raise _unauthenticated("not an access token")
    if not await _issuer_ok(issuers, claims):
        raise _unauthenticated("wrong issuer")
    now = time.time()
    if int(claims.get("exp", 0)) + LEEWAY_SECONDS < now:
        raise _unauthenticated("expired")
    if int(claims.get("nbf", 0)) - LEEWAY_SECONDS > now:
        raise _unauthenticated("not yet valid")
    if not claims.get("jti") or await revocations.is_revoked(str(claims["jti"])):
        raise _unauthenticated("revoked")
    return claims


async def _issuer_ok(issuers: Issuers | str, claims: dict[str, Any]) -> bool:
    if isinstance(issuers, str):
        return claims.get("iss") == issuers
    return await issuers.accepts(claims.get("iss"), claims.get("aud"))


def _kid(token: str) -> str | None:
    """The key id from the (unverified) header, to pick the key; the signature is checked after."""
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return str(header.get("kid")) if isinstance(header, dict) and header.get("kid") else None
    except (ValueError, UnicodeDecodeError):
        return None


def actor_for(claims: dict[str, Any], tenant: Tenant) -> Actor:
    """Check the audience against the host's tenant; ``FORBIDDEN`` for another tenant's token."""
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    scopes = frozenset(str(claims.get("scope", "")).split())
    on_national_host = tenant.kind is TenantKind.NATIONAL
    role = claims.get("role")
    audit = False
    if tenant.slug in audiences or (on_national_host and NATIONAL_AUDIENCE in audiences):
        pass
    elif NATIONAL_AUDIENCE in audiences and role == Role.OMBUDSMAN.value:
        scopes &= {"complaints:read"}
        audit = True
    else:
        raise DomainError(
            "FORBIDDEN", f"this token is for {', '.join(map(str, audiences))}, not for {tenant.slug!r}"
        )
    unit = claims.get("unit")
    return Actor(
        kind=ActorKind.STAFF,
        name=str(claims.get("name") or claims.get("client_id") or "client"),
        scopes=scopes,
        unit_id=int(unit) if unit is not None else None,
        client_id=claims.get("client_id"),
        subject=claims.get("sub"),
        audit_reads=audit,
    )
