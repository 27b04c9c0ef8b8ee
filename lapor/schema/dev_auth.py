"""The temporary development identity (until OAuth): off unless ``LAPOR_DEV_AUTH=1``.

Headers: ``X-Lapor-Dev-Staff: <name>`` (required), ``X-Lapor-Dev-Scopes: "a b"`` (default: every
staff scope), ``X-Lapor-Dev-Unit: <unit id>`` (act as that unit's officer).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from lapor.tenants.actors import ALL_STAFF_SCOPES, Actor, staff


def actor_from_dev_headers(request: HTTPConnection, enabled: bool) -> Actor | None:
    name = request.headers.get("x-lapor-dev-staff")
    if not enabled or not name:
        return None
    scopes_header = request.headers.get("x-lapor-dev-scopes")
    scopes = frozenset(scopes_header.split()) if scopes_header is not None else ALL_STAFF_SCOPES
    unit_header = request.headers.get("x-lapor-dev-unit")
    if unit_header and not unit_header.strip().isdigit():
        return None  # a malformed identity is no identity: staff fields answer UNAUTHENTICATED
    unit_id = int(unit_header) if unit_header else None
    return staff(name.strip()[:100], scopes, unit_id)
