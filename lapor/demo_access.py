"""Credentials for trying the demo as staff: an OAuth client and an admin login.

Secrets are shown once by the CLI in real use; for the demo they are kept in
``LAPOR_DATA_DIR/demo-credentials.json`` (mode 0600) so every ``lapor serve --demo`` can print
them again. Never used outside ``--demo``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from lapor.auth.accounts import create_client, create_user, grant_role, list_clients
from lapor.auth.roles import ROLE_SCOPES, Role
from lapor.platform.db import Database
from lapor.platform.errors import DomainError
from lapor.settings import Settings

DEMO_REDIRECT = "http://localhost:8765/callback"


@dataclass(frozen=True)
class DemoAccess:
    tenant: str
    client_id: str
    client_secret: str
    email: str
    password: str


def _path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "demo-credentials.json"


async def ensure_demo_access(db: Database, settings: Settings, tenant: str) -> DemoAccess:
    """The demo's client and admin for ``tenant``, created on first use and remembered."""
    path = _path(settings)
    if path.exists():
        saved = DemoAccess(**json.loads(path.read_text()))
        live = {c.client_id for c in await list_clients(db) if not c.revoked}
        if saved.tenant == tenant and saved.client_id in live:
            return saved
    scopes = ROLE_SCOPES[Role.TENANT_ADMIN]
    client, secret = await create_client(
        db,
        name="Demo staff app",
        scopes=scopes,
        tenant_slug=tenant,
        grant_types=("client_credentials", "authorization_code", "refresh_token"),
        redirect_uris=(DEMO_REDIRECT,),
    )
    email, password = f"admin@{tenant}.demo.lapor.id", secrets.token_urlsafe(12)
    try:
        await create_user(db, email, f"Admin {tenant}", password)
    except DomainError as error:
        if error.code != "DUPLICATE_EMAIL":
            raise
        email = f"admin-{secrets.token_hex(3)}@{tenant}.demo.lapor.id"
        await create_user(db, email, f"Admin {tenant}", password)
    await grant_role(db, email, tenant, Role.TENANT_ADMIN)
    access = DemoAccess(tenant, client.client_id, secret or "", email, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(access), file)
    return access
