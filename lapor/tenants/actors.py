"""Who is acting: a reporter, a staff member (with scopes and maybe a unit), or the system.

Domain services take an ``Actor`` and check what they need of it; where the actor comes from
(a development header now, an OAuth token later) is the API layer's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lapor.platform.errors import DomainError
from lapor.tenants.enums import ActorKind

# Scope names are contract (DESIGN.md section 6).
ALL_STAFF_SCOPES = frozenset(
    {
        "complaints:read",
        "complaints:triage",
        "complaints:respond",
        "complaints:transfer",
        "reporters:read",
        "routing:read",
        "routing:write",
        "units:write",
        "stats:read",
        "tenant:admin",
    }
)


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    name: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    unit_id: int | None = None
    """Set for a unit officer: confined to complaints disposed to this unit."""
    client_id: str | None = None
    """The OAuth client the request came through."""
    subject: str | None = None
    """``user:<id>`` for staff, the client id for machine clients."""
    audit_reads: bool = False
    """Reads by this actor are written to the tenant's audit log (the Ombudsman across tenants)."""

    @property
    def label(self) -> str:
        """How the actor is written in timelines and audit logs."""
        return self.name or self.kind.value.lower()

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise DomainError("FORBIDDEN", f"this operation needs the scope {scope!r}")


REPORTER = Actor(ActorKind.REPORTER)
SYSTEM = Actor(ActorKind.SYSTEM, name="system", scopes=ALL_STAFF_SCOPES)


def staff(name: str, scopes: frozenset[str] = ALL_STAFF_SCOPES, unit_id: int | None = None) -> Actor:
    return Actor(ActorKind.STAFF, name=name, scopes=scopes, unit_id=unit_id)
