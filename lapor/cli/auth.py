"""``lapor clients ...``, ``lapor users ...`` and ``lapor keys rotate``."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lapor.auth.accounts import (
    Client,
    Membership,
    StaffUser,
    create_client,
    create_user,
    grant_role,
    list_clients,
    revoke_client,
    set_user_disabled,
)
from lapor.auth.keys import KEYS_CHANNEL, rotate_key
from lapor.auth.roles import Role, parse_scopes
from lapor.cli.common import console, load_settings, open_database, print_json, run
from lapor.platform.bus import make_bus
from lapor.platform.errors import DomainError
from lapor.platform.migrations import upgrade_public
from lapor.platform.secrets import load_secrets
from lapor.schema.common import global_id, parse_global_id

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

clients = typer.Typer(
    help="OAuth clients: third parties, channel gateways, staff apps.", no_args_is_help=True
)
users = typer.Typer(help="Staff accounts and their roles in tenants.", no_args_is_help=True)
keys = typer.Typer(help="Token signing keys.", no_args_is_help=True)


@clients.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="Who the client is, e.g. 'Gateway SMS 1708'.")],
    scopes: Annotated[str, typer.Option(help='Space-separated scopes, e.g. "complaints:read stats:read".')],
    tenant: Annotated[str | None, typer.Option(help="Tenant slug the client's tokens are for.")] = None,
    national: Annotated[bool, typer.Option("--national", help="Tokens for the national host.")] = False,
    grant: Annotated[
        list[str] | None, typer.Option(help="Grant type (repeatable); default client_credentials.")
    ] = None,
    redirect_uri: Annotated[list[str] | None, typer.Option(help="Redirect URI (repeatable).")] = None,
    public: Annotated[bool, typer.Option("--public", help="No secret (PKCE-only app).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Register a client. Prints client_id and client_secret (shown once)."""
    settings = load_settings()

    async def go() -> tuple[Client, str | None]:
        async with open_database(settings) as db:
            await upgrade_public(db)
            return await create_client(
                db, name=name, scopes=parse_scopes(scopes), tenant_slug=tenant, national=national,
                grant_types=tuple(grant or ("client_credentials",)), redirect_uris=tuple(redirect_uri or ()),
                public=public,
            )  # fmt: skip

    client, secret = run(go(), as_json=as_json)
    if as_json:
        print_json({**client.as_json(), "client_secret": secret})
        return
    console.print(f"client_id:     [bold]{client.client_id}[/]")
    console.print(f"client_secret: [bold]{secret or '(public client: none)'}[/]  (shown once; store it now)")
    console.print(f"audience:      {client.audience}; scopes: {' '.join(sorted(client.scopes))}")


@clients.command("list")
def clients_list(as_json: JsonOption = False) -> None:
    """List clients (secrets are never shown again)."""
    settings = load_settings()

    async def go() -> list[Client]:
        async with open_database(settings) as db:
            await upgrade_public(db)
            return await list_clients(db)

    found = run(go(), as_json=as_json)
    if as_json:
        print_json([c.as_json() for c in found])
        return
    table = Table("client_id", "name", "audience", "grants", "scopes", "revoked")
    for c in found:
        table.add_row(c.client_id, c.name, c.audience, " ".join(c.grant_types), " ".join(sorted(c.scopes)),
                      "yes" if c.revoked else "")  # fmt: skip
    Console().print(table)


@clients.command("revoke")
def clients_revoke(client_id: str, as_json: JsonOption = False) -> None:
    """Revoke a client: no new tokens (tokens already issued expire within 15 minutes)."""
    settings = load_settings()

    async def go() -> Client:
        async with open_database(settings) as db:
            return await revoke_client(db, client_id)

    client = run(go(), as_json=as_json)
    if as_json:
        print_json(client.as_json())
    else:
        console.print(f"client {client.client_id} revoked")


@users.command("create")
def users_create(
    email: str,
    name: Annotated[str, typer.Option(help="Full name, shown in timelines to colleagues.")],
    password_env: Annotated[
        str, typer.Option(help="Read the password from this environment variable instead of a prompt.")
    ] = "",
    as_json: JsonOption = False,
) -> None:
    """Create a staff account (the password is asked for, or read from --password-env)."""
    settings = load_settings()
    password = os.environ.get(password_env, "") if password_env else getpass.getpass("Password: ")

    async def go() -> StaffUser:
        async with open_database(settings) as db:
            await upgrade_public(db)
            return await create_user(db, email, name, password)

    user = run(go(), as_json=as_json)
    if as_json:
        print_json(user.as_json())
    else:
        console.print(f"user {user.email} created")


@users.command("grant")
def users_grant(
    email: str,
    tenant: Annotated[str, typer.Option(help="Tenant slug.")],
    role: Annotated[Role, typer.Option(case_sensitive=False, help="Role in that tenant.")],
    unit: Annotated[
        str | None,
        typer.Option(help="Unit (unit officers only): its global id as the API shows it, or the number."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Give a user a role in a tenant (replaces an earlier role there)."""
    settings = load_settings()

    async def go() -> Membership:
        async with open_database(settings) as db:
            return await grant_role(db, email, tenant, role, parse_unit(unit))

    granted = run(go(), as_json=as_json)
    unit_shown = global_id("Unit", granted.unit_id) if granted.unit_id is not None else None
    if as_json:
        print_json({"email": email, "tenant": granted.tenant_slug, "role": granted.role.value,
                    "unit": unit_shown, "scopes": sorted(granted.scopes)})  # fmt: skip
    else:
        console.print(f"{email} is {granted.role.value} in {granted.tenant_slug}")


def parse_unit(value: str | None) -> int | None:
    """``--unit``: the unit's global id (``Unit.id`` in the API, e.g. ``VW5pdDo3``) or its number."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        type_name, key = parse_global_id(value)
    except DomainError:
        type_name, key = "", ""
    if type_name != "Unit" or not key.isdigit():
        raise DomainError(
            "INVALID_INPUT", f"--unit {value!r} is not a unit id (use Unit.id from the API)", "unit"
        )
    return int(key)


@users.command("disable")
def users_disable(email: str, as_json: JsonOption = False) -> None:
    """Disable an account: no new logins or refreshes."""
    settings = load_settings()

    async def go() -> StaffUser:
        async with open_database(settings) as db:
            return await set_user_disabled(db, email, True)

    user = run(go(), as_json=as_json)
    if as_json:
        print_json(user.as_json())
    else:
        console.print(f"user {user.email} disabled")


@keys.command("rotate")
def keys_rotate(as_json: JsonOption = False) -> None:
    """Make a new signing key; the old one verifies until its tokens have expired."""
    settings = load_settings()

    async def go() -> str:
        async with open_database(settings) as db:
            await upgrade_public(db)
            kid = await rotate_key(db, load_secrets(settings))
        bus = make_bus(settings.redis_url)
        try:
            await bus.publish(KEYS_CHANNEL, kid)
        finally:
            await bus.close()
        return kid

    kid = run(go(), as_json=as_json)
    if as_json:
        print_json({"kid": kid})
    else:
        console.print(f"new signing key {kid}")
