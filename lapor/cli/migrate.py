"""``lapor migrate``: public first, then every tenant schema in parallel."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lapor.cli.common import console, load_settings, open_database, print_json, run
from lapor.platform.db import Database
from lapor.platform.migrations import (
    SchemaTarget,
    TenantMigrationReport,
    upgrade_public,
    upgrade_tenants,
)
from lapor.tenants.registry import list_tenants


async def migrate_all(db: Database, workers: int, *, show_progress: bool) -> TenantMigrationReport:
    """Upgrade ``public``, then all tenant schemas; return the tenant report."""
    await upgrade_public(db)
    targets = [SchemaTarget(t.slug, t.schema_name, t.cluster) for t in await list_tenants(db)]
    progress = Progress(
        TextColumn("migrating tenant schemas"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
    )
    with progress:
        task = progress.add_task("tenants", total=len(targets))
        return await upgrade_tenants(
            db,
            targets,
            workers=workers,
            on_done=lambda _target, _outcome: progress.advance(task),
        )


def migrate(
    workers: Annotated[
        int | None, typer.Option(min=1, help="Schemas migrated at once (default LAPOR_MIGRATE_WORKERS).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Apply migrations: public, then every tenant schema (resumable; failures named at the end)."""
    settings = load_settings()
    count = workers or settings.migrate_workers

    async def go() -> TenantMigrationReport:
        async with open_database(settings, pool_size=count + 1) as db:
            return await migrate_all(db, count, show_progress=not as_json)

    report = run(go(), as_json=as_json)
    if as_json:
        print_json(
            {
                "head": report.head,
                "total": report.total,
                "upgraded": len(report.upgraded),
                "up_to_date": len(report.up_to_date),
                "failed": report.failed,
                "seconds": round(report.seconds, 3),
            }
        )
    else:
        console.print(
            f"tenant head {report.head}: {len(report.upgraded)} upgraded, "
            f"{len(report.up_to_date)} already up to date, {len(report.failed)} failed "
            f"({report.seconds:.2f} s)"
        )
        for schema, error in sorted(report.failed.items()):
            console.print(f"[red]FAILED[/] {schema}: {error}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)
