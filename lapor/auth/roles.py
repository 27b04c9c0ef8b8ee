"""Staff roles and the scopes each one carries (scope names are contract: DESIGN.md section 6)."""

from __future__ import annotations

import enum

ALL_SCOPES = frozenset(
    {
        "complaints:read",
        "complaints:submit",
        "complaints:triage",
        "complaints:respond",
        "complaints:transfer",
        "reporters:read",
        "routing:read",
        "routing:write",
        "units:write",
        "stats:read",
        "national:read",
        "tenant:admin",
    }
)


class Role(enum.StrEnum):
    TENANT_ADMIN = "TENANT_ADMIN"
    TRIAGE_OFFICER = "TRIAGE_OFFICER"
    UNIT_OFFICER = "UNIT_OFFICER"
    VIEWER = "VIEWER"
    NATIONAL_ANALYST = "NATIONAL_ANALYST"
    OMBUDSMAN = "OMBUDSMAN"


ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.TENANT_ADMIN: frozenset(
        {
            "complaints:read", "complaints:triage", "complaints:respond", "complaints:transfer",
            "reporters:read", "routing:read", "routing:write", "units:write", "stats:read", "tenant:admin",
        }
    ),
    Role.TRIAGE_OFFICER: frozenset(
        {"complaints:read", "complaints:triage", "complaints:transfer", "routing:read", "stats:read"}
    ),
    Role.UNIT_OFFICER: frozenset({"complaints:read", "complaints:respond"}),
    Role.VIEWER: frozenset({"complaints:read", "routing:read", "stats:read"}),
    Role.NATIONAL_ANALYST: frozenset({"national:read", "stats:read"}),
    # National read, plus reading any tenant's complaints; every such read is audited.
    Role.OMBUDSMAN: frozenset({"national:read", "stats:read", "complaints:read"}),
}  # fmt: skip

NATIONAL_ROLES = frozenset({Role.NATIONAL_ANALYST, Role.OMBUDSMAN})


def parse_scopes(text: str | None) -> frozenset[str]:
    return frozenset((text or "").split())


def unknown_scopes(scopes: frozenset[str]) -> frozenset[str]:
    return scopes - ALL_SCOPES
