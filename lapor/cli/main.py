"""The ``lapor`` command: serve, migrate, tenants, schema."""

from __future__ import annotations

import typer

from lapor.cli import auth as auth_command
from lapor.cli import holidays as holidays_command
from lapor.cli import migrate as migrate_command
from lapor.cli import serve as serve_command
from lapor.cli import tenants as tenants_command
from lapor.cli import worker as worker_command
from lapor.settings import ENVIRONMENT_VARIABLES

_SETTINGS_HELP = "\n\n".join(f"{name}: {text}" for name, text in ENVIRONMENT_VARIABLES.items())

app = typer.Typer(
    name="lapor",
    help="LAPOR: multi-tenant complaint management for Indonesian public services.\n\n"
    "Settings come from the environment:\n\n" + _SETTINGS_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_command.serve)
app.command("migrate")(migrate_command.migrate)
app.command("worker")(worker_command.worker)
app.add_typer(tenants_command.app, name="tenants")
app.add_typer(holidays_command.app, name="holidays")
app.add_typer(auth_command.clients, name="clients")
app.add_typer(auth_command.users, name="users")
app.add_typer(auth_command.keys, name="keys")


@app.command("schema")
def schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from lapor.schema import sdl

    print(sdl(), end="")


if __name__ == "__main__":
    app()
