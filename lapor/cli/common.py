"""What every CLI command needs: settings, a database, clean errors, JSON or tables."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from lapor.platform.db import Database
from lapor.platform.embedded import database_url_from
from lapor.platform.errors import DomainError
from lapor.settings import Settings, SettingsError

T = TypeVar("T")

console = Console(stderr=True)


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        fail(str(error), code="INVALID_SETTING")


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # pgserver narrates initdb at INFO; our own line says the embedded server is in use.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, logging.getLogger().level))


def fail(message: str, *, code: str = "ERROR", as_json: bool = False, exit_code: int = 1) -> NoReturn:
    if as_json:
        print(json.dumps({"error": {"code": code, "message": message}}))
    else:
        console.print(f"[bold red]error[/] ({code}): {message}", highlight=False)
    raise typer.Exit(exit_code)


def run(coroutine: Coroutine[Any, Any, T], *, as_json: bool = False) -> T:
    """Run ``coroutine``; a ``DomainError`` becomes a clear message and exit code 1."""
    try:
        return asyncio.run(coroutine)
    except DomainError as error:
        fail(error.message, code=error.code, as_json=as_json)
    except OSError as error:
        fail(f"cannot reach the database: {error}", code="SERVICE_UNAVAILABLE", as_json=as_json)


@asynccontextmanager
async def open_database(settings: Settings, *, pool_size: int | None = None) -> AsyncIterator[Database]:
    db = Database(database_url_from(settings), settings, pool_size=pool_size)
    try:
        yield db
    finally:
        await db.dispose()


def print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))
