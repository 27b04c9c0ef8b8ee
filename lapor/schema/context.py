"""What every resolver receives: the request, the tenant, the caller, the request's database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

from lapor.platform.errors import DomainError
from lapor.schema.request_db import RequestDatabase
from lapor.tenants.actors import Actor
from lapor.tenants.records import Tenant

if TYPE_CHECKING:
    from lapor.platform.services import Services


@dataclass
class LaporContext:
    request: HTTPConnection
    tenant: Tenant
    services: Services
    actor: Actor | None = None
    """The authenticated staff member or client, ``None`` for the public."""
    auth_error: DomainError | None = None
    """Why the presented token was refused (raised when a field needs the caller)."""
    loaders: dict[str, Any] = field(default_factory=dict)
    connection_params: dict[str, Any] | None = None
    """A websocket's ``connection_init`` payload (set by strawberry; browsers cannot send headers
    on a websocket, so the token may come here: see ``LaporGraphQL.on_ws_connect``)."""

    @cached_property
    def reader(self) -> RequestDatabase:
        return RequestDatabase(self.services.db, self.tenant)

    def staff(self) -> Actor:
        """The caller, who must be authenticated (public callers get ``UNAUTHENTICATED``)."""
        if self.auth_error is not None:
            raise self.auth_error
        if self.actor is None:
            raise DomainError("UNAUTHENTICATED", "this operation needs an access token (OAuth 2 bearer)")
        return self.actor
