"""Per-host OAuth issuers (RFC 8414), and the check that a token's ``iss`` is one of ours.

Decision (issue 9 item 18): every tenant host is its own issuer, ``<scheme>://<host>[:port]``,
exactly the URL a client discovers from. A strict RFC 8414 client (section 3.3: the metadata's
``issuer`` must equal the URL it asked) therefore accepts the metadata on any tenant host, and
the endpoints it finds there are that host's (a tenant's clients only get tokens on the
tenant's own hosts, item 15). One platform-wide issuer could not be consistent with that: its
token endpoint would sit on one host while tenant clients must use theirs.

A token's ``iss`` is accepted on any host when its host name resolves to the tenant the token
is for (its audience), or to the national tenant for a national token: so a token issued on a
tenant's custom domain also works on ``<slug>.<base domain>``, an Ombudsman's national token
works wherever its audience allows, and a token whose issuer names another tenant, an unknown
host or another scheme is refused.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from lapor.tenants.records import Tenant, TenantKind
from lapor.tenants.validation import normalize_host

NATIONAL_AUDIENCE = "national"


class HostResolver(Protocol):
    async def resolve(self, host: str) -> Tenant | None: ...


class Issuers:
    def __init__(self, resolver: HostResolver, scheme: str) -> None:
        self.resolver = resolver
        self.scheme = scheme

    def for_host(self, raw_host: str) -> str:
        """The issuer identifier of the host a request came to (its port kept, as the client sent it)."""
        host = normalize_host(raw_host)
        raw = (raw_host or "").strip()
        port = raw.rsplit(":", 1)[1] if ":" in raw and not raw.startswith("[") else ""
        return f"{self.scheme}://{host}" + (f":{port}" if port.isdigit() else "")

    async def accepts(self, issuer: object, audience: object) -> bool:
        """Whether ``issuer`` is one of our hosts and belongs to the tenant of ``audience``."""
        tenant = await self.tenant_of(issuer)
        if tenant is None:
            return False
        audiences = audience if isinstance(audience, list) else [audience]
        if tenant.kind is TenantKind.NATIONAL and NATIONAL_AUDIENCE in audiences:
            return True
        return tenant.slug in audiences

    async def tenant_of(self, issuer: object) -> Tenant | None:
        if not isinstance(issuer, str):
            return None
        try:
            parts = urlsplit(issuer)
            _port = parts.port  # a malformed port raises ValueError
        except ValueError:
            return None
        if parts.scheme != self.scheme or parts.path or parts.query or parts.fragment or not parts.hostname:
            return None
        if parts.username or parts.password or issuer != issuer.strip().lower():
            return None
        return await self.resolver.resolve(normalize_host(parts.hostname))
