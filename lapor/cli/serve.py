"""``lapor serve``: migrate, optionally build the demo world, then run uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from lapor.cli.common import configure_logging, console, fail, load_settings, open_database, run
from lapor.cli.migrate import migrate_all
from lapor.demo import ensure_demo_world
from lapor.platform.embedded import database_url_from
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

    async def prepare() -> list[str]:
        async with open_database(settings, pool_size=settings.migrate_workers + 1) as db:
            report = await migrate_all(db, settings.migrate_workers, show_progress=True)
            if not report.ok:
                fail(f"migrations failed for: {', '.join(sorted(report.failed))}", code="MIGRATION_FAILED")
            if demo:
                created = await ensure_demo_world(db, settings.base_domain)
                if created:
                    console.print(f"demo: provisioned {len(created)} tenants")
            return [t.slug for t in await list_tenants(db)]

    slugs = run(prepare())
    shown = f":{port}" if port != 80 else ""
    console.print("[bold]LAPOR is serving[/] (GraphiQL on GET /graphql):")
    for slug in slugs:
        console.print(f"  http://{slug}.{settings.base_domain}{shown}/graphql")
    uvicorn.run(
        "lapor.platform.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )
