"""The ``ecos-migration`` command line: a thin Typer front end over the product's functions.

Each command imports the modules it calls inside its own function, so one command does not
load the dependencies of the others (SQLAlchemy, openpyxl, FastAPI, lxml, cryptography).
``tests/unit/test_cli_startup.py`` checks that importing this package loads none of them.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ecos_migration import __version__
from ecos_migration.cli import eligibility, engine, evidence, inventory, models, reports, routing
from ecos_migration.cli.context import AppContext, app_context
from ecos_migration.errors import EcosMigrationError
from ecos_migration.store.database import DATABASE_URL_VARIABLE, upgrade_schema

app = typer.Typer(
    name="ecos-migration",
    help="Control system for the ECoS Migration of GB smart metering devices.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecos-migration {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar=DATABASE_URL_VARIABLE,
            help="SQLAlchemy database URL "
            "(default: sqlite:///ecos-migration.db in the working folder).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="ECOS_MIGRATION_CONFIG",
            help="TOML configuration overriding the packaged defaults "
            "(`ecos-migration config` prints them).",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress and decisions to stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Control system for the ECoS Migration of GB smart metering devices."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = AppContext(database_url=db, config_path=config)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the database schema, or upgrade an older one to this release."""
    context = app_context(ctx)
    engine = context.engine(require_schema=False)
    before, after = upgrade_schema(engine)
    if before == after:
        context.console.print(f"Database {engine.url!r} is up to date (schema {after}).")
    elif before is None:
        context.console.print(f"Created the schema {after} in {engine.url!r}.")
    else:
        context.console.print(f"Upgraded {engine.url!r} from schema {before} to {after}.")


@app.command("config")
def print_config(ctx: typer.Context) -> None:
    """Print the packaged default configuration, with a comment on every key."""
    from ecos_migration.config import default_config_text

    context = app_context(ctx)
    context.settings  # noqa: B018 - validates the configuration in force before printing
    sys.stdout.write(default_config_text())


inventory.register(app)
models.register(app)
evidence.register(app)
eligibility.register(app)
engine.register(app)
routing.register(app)
reports.register(app)


def main() -> None:
    """Run the command line; print product errors as one line and exit 1, never a traceback."""
    try:
        app()
    except EcosMigrationError as exc:
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
        sys.exit(130)
