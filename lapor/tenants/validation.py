"""What a valid tenant is: slug, kind hierarchy, region code, time zone, domains.

Pure functions: no database. Each refusal is a ``TenantError`` with a stable code, the field it
concerns and a message a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lapor.platform.errors import DomainError
from lapor.tenants.records import TenantKind

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
REGION_CODE_PATTERN = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_PATTERN = re.compile(rf"^(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})+$")

# Indonesia's three time zones (WIB has two IANA names). Ministries sit in Jakarta.
INDONESIAN_TIME_ZONES = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")
DEFAULT_TIME_ZONE = "Asia/Jakarta"
MAX_NAME_LENGTH = 200

# Which kind of parent each kind must have (None: no parent allowed).
PARENT_KIND: dict[TenantKind, TenantKind | None] = {
    TenantKind.NATIONAL: None,
    TenantKind.MINISTRY: TenantKind.NATIONAL,
    TenantKind.PROVINCE: TenantKind.NATIONAL,
    TenantKind.REGENCY: TenantKind.PROVINCE,
    TenantKind.CITY: TenantKind.PROVINCE,
}


class TenantError(DomainError):
    """A tenant request we refuse; ``code`` is stable and scriptable."""


@dataclass(frozen=True)
class TenantSpec:
    """A request to create a tenant, as the CLI or an admin API states it."""

    slug: str
    name: str
    kind: TenantKind | str
    parent: str | None = None
    region_code: str | None = None
    time_zone: str | None = None
    domains: tuple[str, ...] = ()


def schema_name_for(slug: str) -> str:
    """``kupang-kota`` -> ``t_kupang_kota``: a plain identifier that never needs quoting.

    Slugs have no underscores, so the mapping is one-to-one.
    """
    return "t_" + slug.replace("-", "_")


def check_slug(slug: str) -> str:
    if not SLUG_PATTERN.fullmatch(slug or ""):
        raise TenantError(
            "INVALID_SLUG",
            f"slug {slug!r} is not valid: use 3 to 40 lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen (e.g. 'kupang-kota')",
            "slug",
        )
    return slug


def check_kind(kind: TenantKind | str) -> TenantKind:
    try:
        return TenantKind(str(kind).upper())
    except ValueError:
        allowed = ", ".join(k.value for k in TenantKind)
        raise TenantError("INVALID_KIND", f"kind {kind!r} is not one of {allowed}", "kind") from None


def check_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise TenantError("INVALID_NAME", "name must not be empty", "name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise TenantError("INVALID_NAME", f"name is longer than {MAX_NAME_LENGTH} characters", "name")
    return cleaned


def check_region_code(code: str | None, parent_code: str | None) -> str | None:
    if code is None or code == "":
        return None
    if not REGION_CODE_PATTERN.fullmatch(code):
        raise TenantError(
            "INVALID_REGION_CODE",
            f"region code {code!r} is not a Kemendagri code such as '53' or '53.71'",
            "region_code",
        )
    if parent_code and not code.startswith(parent_code + "."):
        raise TenantError(
            "INVALID_REGION_CODE",
            f"region code {code!r} does not lie within the parent's region {parent_code!r}",
            "region_code",
        )
    return code


def check_time_zone(zone: str | None, fallback: str) -> str:
    if zone is None or zone == "":
        return fallback
    if zone not in INDONESIAN_TIME_ZONES:
        raise TenantError(
            "INVALID_TIME_ZONE",
            f"time zone {zone!r} is not one of {', '.join(INDONESIAN_TIME_ZONES)}",
            "time_zone",
        )
    return zone


def normalize_host(host: str) -> str:
    """Lowercase, without a port or a trailing dot: the form hosts are stored and looked up in."""
    host = (host or "").strip().lower()
    if host.startswith("["):  # IPv6 literal, never a tenant host
        return host
    host = host.rsplit(":", 1)[0] if ":" in host else host
    return host.rstrip(".")


def check_domain(host: str, base_domain: str) -> str:
    normalized = normalize_host(host)
    if not HOST_PATTERN.fullmatch(normalized):
        raise TenantError("INVALID_DOMAIN", f"{host!r} is not a valid host name", "domains")
    if normalized == base_domain or normalized.endswith("." + base_domain):
        raise TenantError(
            "INVALID_DOMAIN",
            f"{host!r} lies under the platform's base domain {base_domain!r}; "
            f"tenants already answer on <slug>.{base_domain}",
            "domains",
        )
    return normalized


def check_parent_kind(kind: TenantKind, parent_slug: str | None, parent_kind: TenantKind | None) -> None:
    """Refuse a parent of the wrong kind (a regency's parent must be a province)."""
    expected = PARENT_KIND[kind]
    if expected is None:
        if parent_slug is not None:
            raise TenantError("INVALID_PARENT", "the NATIONAL tenant has no parent", "parent")
        return
    if parent_slug is None:
        raise TenantError(
            "PARENT_REQUIRED", f"a {kind.value} needs a {expected.value} as parent (--parent SLUG)", "parent"
        )
    if parent_kind is not expected:
        raise TenantError(
            "INVALID_PARENT",
            f"a {kind.value} must have a {expected.value} as parent, "
            f"but {parent_slug!r} is a {parent_kind.value if parent_kind else 'unknown tenant'}",
            "parent",
        )
