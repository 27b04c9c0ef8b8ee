"""``lapor holidays import|list``: the working-day calendar every time limit is counted on.

The government announces each year's holidays and joint leave days (SKB 3 Menteri) in the year
before; importing them here is how next year's deadlines learn about them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lapor.cli.common import console, fail, load_settings, open_database, print_json, run
from lapor.platform.bus import make_bus
from lapor.platform.calendar import (
    Holiday,
    announce_holidays_change,
    import_holidays,
    list_holidays,
    parse_holiday_csv,
)
from lapor.platform.migrations import upgrade_public

app = typer.Typer(help="Import and list national holidays and joint leave days.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


async def _announce(redis_url: str | None, message: str) -> None:
    """Running API processes and workers reload their cached calendar at once."""
    bus = make_bus(redis_url)
    try:
        await announce_holidays_change(bus, message)
    finally:
        await bus.close()


def _read(path: Path, as_json: bool) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {error}", code="INVALID_HOLIDAY_FILE", as_json=as_json)


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV with the header date,kind,name ('#' lines skipped).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Add or correct holidays from FILE (upsert by date; dates not in the file are kept)."""
    settings = load_settings()
    text = _read(file, as_json)

    async def go() -> tuple[int, int, int]:
        holidays = parse_holiday_csv(text)  # before connecting: a bad file changes nothing
        async with open_database(settings) as db:
            await upgrade_public(db)
            inserted, updated = await import_holidays(db, holidays)
        await _announce(settings.redis_url, file.name)  # also when unchanged: a cheap "reload now"
        return len(holidays), inserted, updated

    total, inserted, updated = run(go(), as_json=as_json)
    unchanged = total - inserted - updated
    if as_json:
        print_json({"total": total, "inserted": inserted, "updated": updated, "unchanged": unchanged})
    else:
        console.print(f"{total} holidays read: {inserted} added, {updated} updated, {unchanged} unchanged")


@app.command("list")
def list_(
    year: Annotated[int | None, typer.Option(min=1, max=9998, help="Only this year, e.g. 2026.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List holidays by date (all years, or one)."""
    settings = load_settings()

    async def go() -> list[Holiday]:
        async with open_database(settings) as db:
            await upgrade_public(db)
            return await list_holidays(db, year)

    holidays = run(go(), as_json=as_json)
    if as_json:
        print_json([h.as_json() for h in holidays])
        return
    table = Table("date", "day", "kind", "name")
    for h in holidays:
        table.add_row(h.date.isoformat(), h.date.strftime("%a"), h.kind.value, h.name)
    Console().print(table)
