"""What every resolver receives: the request, the resolved tenant, the process's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from lapor.tenants.records import Tenant

if TYPE_CHECKING:
    from lapor.platform.services import Services


@dataclass
class LaporContext:
    request: HTTPConnection
    tenant: Tenant
    services: Services
