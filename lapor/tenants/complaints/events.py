"""Complaint change events on the bus: what one API process tells the others after a commit.

One channel per tenant, built with ``tenant_key`` like every key a tenant's data touches, so a
subscriber can only ever listen to the tenant it names. The message is deliberately small and
carries no personal data (no title, body or reporter): it says *that* a complaint changed, and a
client that wants more asks the API, where scopes and unit scoping apply again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lapor.platform.keys import tenant_key
from lapor.tenants.complaints.records import ComplaintRecord
from lapor.tenants.records import Tenant

if TYPE_CHECKING:
    from lapor.platform.bus import Bus
    from lapor.tenants.complaints.service import ChangeListener

PUBLISH_TIMEOUT = 2.0
"""Seconds a publish may take: the change is committed already, a hung Redis must not hold the
request (the failure is logged by the service and subscribers miss one event)."""


def events_channel(tenant_slug: str) -> str:
    """``lapor:t:<slug>:complaint-events``."""
    return tenant_key(tenant_slug, "complaint-events")


@dataclass(frozen=True, slots=True)
class ComplaintChange:
    tracking_id: str
    status: str
    action: str
    version: int
    unit_id: int | None
    """The unit's database id: what a unit officer's subscription filters on."""
    at: dt.datetime

    @classmethod
    def of(cls, record: ComplaintRecord, action: str) -> ComplaintChange:
        return cls(
            tracking_id=record.tracking_id,
            status=record.status.value,
            action=action,
            version=record.version,
            unit_id=record.unit_id,
            at=record.updated_at,
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "trackingId": self.tracking_id,
                "status": self.status,
                "action": self.action,
                "version": self.version,
                "unitId": self.unit_id,
                "at": self.at.isoformat(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, message: str) -> ComplaintChange:
        """Parse a message; ``ValueError`` for anything malformed (never trusted blindly)."""
        try:
            data: Any = json.loads(message)
            unit = data["unitId"]
            return cls(
                tracking_id=str(data["trackingId"]),
                status=str(data["status"]),
                action=str(data["action"]),
                version=int(data["version"]),
                unit_id=int(unit) if unit is not None else None,
                at=dt.datetime.fromisoformat(data["at"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a complaint event: {error}") from None


def change_publisher(bus: Bus) -> ChangeListener:
    """The ``ComplaintService.on_change`` listener that publishes each change on ``bus``.

    Whoever builds a ``ComplaintService`` that changes complaints (API, worker) should pass this,
    or subscribers on other processes never hear of those changes.
    """

    async def publish(tenant: Tenant, record: ComplaintRecord, action: str) -> None:
        message = ComplaintChange.of(record, action).to_json()
        async with asyncio.timeout(PUBLISH_TIMEOUT):
            await bus.publish(events_channel(tenant.slug), message)

    return publish
