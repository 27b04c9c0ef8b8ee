"""``lapor tenants create|list|suspend|activate``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lapor.cli.common import console, load_settings, open_database, print_json, run
from lapor.platform.bus import make_bus
from lapor.platform.migrations import upgrade_public
from lapor.tenants.events import announce_registry_change
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant, TenantKind, TenantStatus
from lapor.tenants.registry import list_tenants, set_status
from lapor.tenants.validation import TenantSpec

app = typer.Typer(help="Create, list, suspend and reactivate tenants.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


async def _announce(settings_redis: str | None, slug: str) -> None:
    bus = make_bus(settings_redis)
    try:
        await announce_registry_change(bus, slug)
    finally:
        await bus.close()


@app.command("create")
def create(
    slug: Annotated[str, typer.Argument(help="e.g. kupang-kota (host: <slug>.<base domain>)")],
    name: Annotated[str, typer.Option(help="Official name, e.g. 'Kota Kupang'.")],
    kind: Annotated[TenantKind, typer.Option(case_sensitive=False, help="Tenant kind.")],
    parent: Annotated[
        str | None, typer.Option(help="Parent slug (a province for a regency or city).")
    ] = None,
    region_code: Annotated[str | None, typer.Option(help="Kemendagri code, e.g. 53.71.")] = None,
    time_zone: Annotated[
        str | None, typer.Option(help="IANA zone; default: the parent's, else Asia/Jakarta.")
    ] = None,
    domain: Annotated[list[str] | None, typer.Option(help="Custom host name (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Register and provision a tenant: schema, role, tables and default categories, atomically."""
    settings = load_settings()
    spec = TenantSpec(slug, name, kind, parent, region_code, time_zone, tuple(domain or ()))

    async def go() -> Tenant:
        async with open_database(settings) as db:
            await upgrade_public(db)
            created = await Provisioner(db, settings.base_domain).create(spec)
        await _announce(settings.redis_url, created.slug)
        return created

    tenant = run(go(), as_json=as_json)
    if as_json:
        print_json(tenant.as_json())
    else:
        console.print(
            f"created tenant [bold]{tenant.slug}[/] (schema {tenant.schema_name}) "
            f"at {tenant.slug}.{settings.base_domain}"
        )


@app.command("list")
def list_(
    kind: Annotated[TenantKind | None, typer.Option(case_sensitive=False, help="Only this kind.")] = None,
    status: Annotated[
        TenantStatus | None, typer.Option(case_sensitive=False, help="Only this status.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List tenants (all, or of one kind or status)."""
    settings = load_settings()

    async def go() -> list[Tenant]:
        async with open_database(settings) as db:
            await upgrade_public(db)
            return await list_tenants(db, kind=kind, status=status)

    tenants = run(go(), as_json=as_json)
    if as_json:
        print_json([t.as_json() for t in tenants])
        return
    table = Table("slug", "name", "kind", "parent", "region", "status", "domains")
    for t in tenants:
        table.add_row(
            t.slug,
            t.name,
            t.kind.value,
            t.parent_slug or "",
            t.region_code or "",
            t.status.value,
            ", ".join(t.domains),
        )
    Console().print(table)


def _change_status(slug: str, status: TenantStatus, reason: str | None, as_json: bool) -> None:
    settings = load_settings()

    async def go() -> Tenant:
        async with open_database(settings) as db:
            changed = await set_status(db, slug, status, reason)
        await _announce(settings.redis_url, slug)
        return changed

    tenant = run(go(), as_json=as_json)
    if as_json:
        print_json(tenant.as_json())
    else:
        console.print(f"tenant [bold]{tenant.slug}[/] is now {tenant.status.value}")


@app.command("suspend")
def suspend(
    slug: str,
    reason: Annotated[str | None, typer.Option(help="Shown to callers of the tenant's hosts.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend a tenant: its hosts answer 403, its data stays."""
    _change_status(slug, TenantStatus.SUSPENDED, reason, as_json)


@app.command("activate")
def activate(slug: str, as_json: JsonOption = False) -> None:
    """Reactivate a suspended tenant."""
    _change_status(slug, TenantStatus.ACTIVE, None, as_json)
