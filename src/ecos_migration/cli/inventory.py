"""Commands of the inventory area: importing inventory snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ecos_migration.cli.context import app_context
from ecos_migration.cli.dates import parse_day
from ecos_migration.inventory.formats import InventoryFormat

# The importer and the readers load SQLAlchemy and lxml, so they are imported by the
# command that uses them rather than by every command.
if TYPE_CHECKING:
    from ecos_migration.inventory.importer import FileImportResult

inventory_app = typer.Typer(help="Import the fleet inventory.", no_args_is_help=True)


@inventory_app.command("import")
def import_command(  # noqa: PLR0917 - one parameter per command-line option
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Inventory files, imported in order, each in one transaction.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    file_format: Annotated[
        InventoryFormat,
        typer.Option(
            "--format",
            help="csv: a header row with the inventory columns; duis: DUIS 8.2 read-inventory "
            "responses (DSPInventory).",
        ),
    ] = InventoryFormat.CSV,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the valid rows and write the invalid ones to --rejects. Of rows "
            "repeating a device id, the first is imported and the later ones are rejected.",
        ),
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="CSV file receiving each rejected row: file, line, the original fields "
            "and the reason. Required with --skip-invalid.",
            dir_okay=False,
        ),
    ] = None,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Date of the snapshot (YYYY-MM-DD), recorded on every "
            "event and used for eligibility. Default: today.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import inventory snapshots: new devices are added, known ones updated in place.

    Every row is validated. A file with an invalid row is not imported at all: every
    problem is listed with its line (or XML element), column, value and what is expected,
    and the command exits 1. Files before it stay imported.
    """
    from ecos_migration.cli.progress import RowProgress
    from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
    from ecos_migration.inventory.duis_reader import DUIS_DEVICE_ELEMENTS
    from ecos_migration.inventory.importer import ImportOptions, import_inventory_file
    from ecos_migration.inventory.rejects import RejectsWriter

    if skip_invalid and rejects is None:
        raise typer.BadParameter("--skip-invalid needs --rejects FILE", param_hint="--rejects")
    if rejects is not None and not skip_invalid:
        raise typer.BadParameter(
            "--rejects is used only with --skip-invalid", param_hint="--rejects"
        )
    context = app_context(ctx)
    engine = context.engine()
    options = ImportOptions(
        format=file_format,
        on=parse_day(on) or context.clock.today(),
        now=context.clock.now(),
        policy=context.settings.eligibility.policy(),
        skip_invalid=skip_invalid,
    )
    columns = DUIS_DEVICE_ELEMENTS if file_format is InventoryFormat.DUIS else INVENTORY_COLUMNS
    writer = RejectsWriter(rejects, columns) if rejects is not None else None
    try:
        for path in files:
            with RowProgress(context.error_console) as progress:
                result = import_inventory_file(
                    engine, path, options, rejects=writer, progress=progress
                )
            _print_result(context.console, result)
    finally:
        if writer is not None:
            writer.close()
            context.console.print(f"Rejected rows written to {writer.path}: {writer.count}")


def _print_result(console: Console, result: FileImportResult) -> None:
    console.print(
        f"{result.file}: {result.rows:,} rows; {result.inserted:,} added, "
        f"{result.updated:,} updated, {result.unchanged:,} unchanged, "
        f"{result.rejected:,} rejected; {result.events:,} events recorded.",
        soft_wrap=True,
    )
    if result.not_carried:
        console.print(
            "The file does not carry these fields: "
            + ", ".join(sorted(result.not_carried))
            + ". New devices get them as unknown (credential UNKNOWN, no supplier, no "
            "communications hub, communications OK); known devices keep their stored values.",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.add_typer(inventory_app, name="inventory")
