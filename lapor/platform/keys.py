"""The one helper that builds every cache and Redis key.

A key a tenant's data touches always starts with the tenant's slug (django-tenants #1052 leaked
data through keys that forgot it); platform-wide keys say so explicitly.
"""

from __future__ import annotations

PREFIX = "lapor"


def tenant_key(tenant_slug: str, *parts: str | int) -> str:
    """``lapor:t:<slug>:<part>:...`` for anything that belongs to one tenant."""
    if not tenant_slug:
        raise ValueError("a tenant key needs a tenant slug")
    return ":".join([PREFIX, "t", tenant_slug, *map(str, parts)])


def platform_key(*parts: str | int) -> str:
    """``lapor:p:<part>:...`` for platform-wide state (registry changes, signing keys)."""
    if not parts:
        raise ValueError("a platform key needs at least one part")
    return ":".join([PREFIX, "p", *map(str, parts)])


REGISTRY_CHANNEL = platform_key("registry-changed")
HOLIDAYS_CHANNEL = platform_key("holidays-changed")
