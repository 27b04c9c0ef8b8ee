"""``lapor serve``: migrate, optionally build the demo world, then run uvicorn."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Annotated, Any

import typer
import uvicorn

from lapor.cli.common import configure_logging, console, fail, load_settings, open_database, run
from lapor.cli.migrate import migrate_all
from lapor.demo import SAMPLE_TENANT, DemoSample, build_demo_world
from lapor.demo_access import DemoAccess, ensure_demo_access
from lapor.platform.embedded import database_url_from
from lapor.settings import Settings
from lapor.tenants.registry import list_tenants


def serve(
    demo: Annotated[bool, typer.Option(help="Provision the demo tenants if they are missing.")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="API worker processes.")] = 1,
) -> None:
    """Run the API. Without LAPOR_DATABASE_URL it starts an embedded PostgreSQL."""
    settings = load_settings()
    configure_logging(settings)
    if settings.database_url is None:
        console.print(
            f"No LAPOR_DATABASE_URL: starting the embedded PostgreSQL under "
            f"[bold]{settings.data_dir.resolve()}[/]"
        )
    if settings.redis_url is None:
        console.print("No LAPOR_REDIS_URL: rate limits, caches and pub/sub stay in this process.")
    database_url = database_url_from(settings)
    # Worker processes read the same database (the embedded server's URL included).
    os.environ["LAPOR_DATABASE_URL"] = database_url
    settings = settings.with_database(database_url)
    if not os.environ.get("LAPOR_ISSUER") and settings.allows_http_oauth:
        # Tokens name the issuer the user actually reaches (with the port) in development.
        issuer = f"http://{settings.base_domain}{'' if port == 80 else f':{port}'}"
        os.environ["LAPOR_ISSUER"] = issuer
        settings = replace(settings, issuer=issuer)

    async def prepare() -> tuple[list[str], DemoSample | None, DemoAccess | None]:
        async with open_database(settings, pool_size=settings.migrate_workers + 1) as db:
            report = await migrate_all(db, settings.migrate_workers, show_progress=True)
            if not report.ok:
                fail(f"migrations failed for: {', '.join(sorted(report.failed))}", code="MIGRATION_FAILED")
            sample, access = None, None
            if demo:
                world = await build_demo_world(db, settings.base_domain, settings)
                if world.created:
                    console.print(f"demo: provisioned {len(world.created)} tenants")
                if world.complaints:
                    console.print(
                        f"demo: seeded {sum(world.complaints.values())} sample complaints in "
                        f"{len(world.complaints)} tenants ({world.seconds:.1f} s)"
                    )
                sample = world.sample
                access = await ensure_demo_access(db, settings, sample.tenant if sample else SAMPLE_TENANT)
            return [t.slug for t in await list_tenants(db)], sample, access

    slugs, sample, access = run(prepare())
    shown = f":{port}" if port != 80 else ""
    console.print("[bold]LAPOR is serving[/] (GraphiQL on GET /graphql):")
    for slug in slugs:
        console.print(f"  http://{slug}.{settings.base_domain}{shown}/graphql")
    if demo and access is not None:
        _demo_hint(settings, shown, sample, access)
    uvicorn.run(
        "lapor.platform.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        **uvicorn_limits(settings),
    )


def uvicorn_limits(settings: Settings) -> dict[str, Any]:
    """What uvicorn is told about proxies, sizes and timeouts (issue 9, items 10 and 12).

    * ``X-Forwarded-For`` is believed only from ``LAPOR_TRUSTED_PROXIES``. uvicorn's own default
      (``FORWARDED_ALLOW_IPS``, else 127.0.0.1) let anyone on the machine, or any local proxy
      that passes the header through, choose the client IP the rate limits count. Without
      trusted proxies the proxy-header middleware is not installed at all.
    * The h11 protocol with LAPOR's header deadline and size limit
      (``lapor.platform.http_protocol``); httptools had neither.
    * Idle keep-alive connections close after ``LAPOR_KEEP_ALIVE_TIMEOUT`` seconds; past
      ``LAPOR_MAX_CONNECTIONS`` connections or running requests a worker answers 503.
    """
    proxies = list(settings.trusted_proxies)
    return {
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies,  # never None: uvicorn would read FORWARDED_ALLOW_IPS
        "http": "lapor.platform.http_protocol:LaporH11Protocol",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": settings.keep_alive_timeout,
        "limit_concurrency": settings.max_connections or None,
    }


def _demo_hint(settings: Settings, shown_port: str, sample: DemoSample | None, access: DemoAccess) -> None:
    """How to act in the demo: as staff (OAuth client or login) and, after seeding, as a reporter."""
    slug = access.tenant
    url = f"http://{slug}.{settings.base_domain}{shown_port}/graphql"
    token_url = f"http://{slug}.{settings.base_domain}{shown_port}/oauth/token"
    console.print(
        f"[bold]Act as staff[/] of {slug}: demo client_id [bold]{access.client_id}[/], client_secret "
        f"[bold]{access.client_secret}[/] (kept in {settings.data_dir}/demo-credentials.json). Get a token:",
        soft_wrap=True,
    )
    console.print(
        f"  curl -s -u {access.client_id}:{access.client_secret} "
        f"-d grant_type=client_credentials {token_url}",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    console.print(
        "  then send 'Authorization: Bearer <access_token>' (GraphiQL: the headers pane). Staff login for "
        f"apps (authorization code + PKCE): {access.email} / {access.password}",
        soft_wrap=True,
    )
    if sample is not None:
        console.print(
            f'[bold]Act as a reporter[/] on {url}: trackComplaint(trackingId: "{sample.tracking_id}", '
            f'accessCode: "{sample.access_code}") ({sample.status.value}: accept, dispute or reply to it)',
            soft_wrap=True,
        )
