"""``lapor worker``: late marking, auto-close and auto-escalation, round after round.

Run as many as you like (``SKIP LOCKED`` and version guards keep every action single). SIGTERM
or SIGINT lets the batch at hand commit, then the process exits 0, so a deploy or a scale-down
never leaves anything half done.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lapor.cli.common import configure_logging, load_settings, print_json, run
from lapor.platform.embedded import database_url_from
from lapor.platform.worker import DEFAULT_INTERVAL, RoundSummary, open_worker

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def worker(
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds to sleep between rounds.")
    ] = DEFAULT_INTERVAL,
    once: Annotated[bool, typer.Option("--once", help="Run one round, print what it did, exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: print the summary as JSON.")] = False,
) -> None:
    """Mark late complaints, auto-close answered ones whose reply window passed, and escalate
    overdue ones to the parent tenant where its policy says so. Migrations must be applied
    (`lapor migrate`)."""
    settings = load_settings()
    configure_logging(settings)

    async def go() -> RoundSummary | None:
        database_url = await asyncio.to_thread(database_url_from, settings)
        async with open_worker(settings, database_url) as deadline_worker:
            loop = asyncio.get_running_loop()
            for number in _STOP_SIGNALS:
                loop.add_signal_handler(number, deadline_worker.request_stop)
            try:
                if once:
                    return await deadline_worker.run_round()
                await deadline_worker.run_forever(interval)
                return None
            finally:
                for number in _STOP_SIGNALS:
                    loop.remove_signal_handler(number)

    summary = run(go(), as_json=as_json)
    if summary is None:
        return
    if as_json:
        print_json(summary.as_json())
        return
    _print_summary(summary)


def _print_summary(summary: RoundSummary) -> None:
    totals = summary.totals()
    table = Table("tenant", "marked late", "auto-closed", "escalated", "skipped", "error")
    for slug, counts in sorted(summary.by_tenant.items()):
        table.add_row(
            slug,
            str(counts.marked_late),
            str(counts.auto_closed),
            str(counts.escalated),
            str(counts.skipped),
            counts.error or "",
        )
    out = Console()
    if summary.by_tenant:
        out.print(table)
    out.print(
        f"{summary.tenants} tenants in {summary.seconds:.2f} s: marked late {totals['marked_late']}, "
        f"auto-closed {totals['auto_closed']}, escalated {totals['escalated']}, "
        f"skipped {totals['skipped']}, failed tenants {totals['failed_tenants']}"
        + (" (interrupted)" if summary.interrupted else "")
    )
