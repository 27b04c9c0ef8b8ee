"""The in-memory picture of a tenant: immutable, cheap, safe to cache and share."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TenantKind(enum.StrEnum):
    NATIONAL = "NATIONAL"
    MINISTRY = "MINISTRY"
    PROVINCE = "PROVINCE"
    REGENCY = "REGENCY"
    CITY = "CITY"


class TenantStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


@dataclass(frozen=True, slots=True)
class Tenant:
    """One registry row, plus its custom domains and parent slug."""

    id: int
    slug: str
    name: str
    kind: TenantKind
    parent_slug: str | None
    region_code: str | None
    time_zone: str
    status: TenantStatus
    status_reason: str | None
    schema_name: str
    role_name: str
    cluster: str
    domains: tuple[str, ...] = ()

    @property
    def is_active(self) -> bool:
        return self.status is TenantStatus.ACTIVE

    def as_json(self) -> dict[str, object]:
        """The shape `lapor tenants list --json` prints (scripted against: keep keys stable)."""
        return {
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind.value,
            "parent": self.parent_slug,
            "region_code": self.region_code,
            "time_zone": self.time_zone,
            "schema": self.schema_name,
            "status": self.status.value,
            "status_reason": self.status_reason,
            "cluster": self.cluster,
            "domains": list(self.domains),
        }
