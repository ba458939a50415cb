"""Commands of the evidence area: importing evidence for the bulk gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ecos_migration.cli.context import app_context
from ecos_migration.cli.dates import parse_day

evidence_app = typer.Typer(help="Evidence for the bulk gate.", no_args_is_help=True)


@evidence_app.command("import")
def import_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CSV files with columns device_id, kind, occurred_on (YYYY-MM-DD), reference "
            "and optionally device_model. kind is CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS, "
            "CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS or SRV_6_23_SUCCESS. The evidence counts "
            "for device_model (TYPE/MANUFACTURER/MODEL/FIRMWARE) when given, which must be "
            "a Device Model already in the store, otherwise for the device's current Device "
            "Model, so the device must be in the inventory. occurred_on must not be later "
            "than the import date (--on).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Import date (YYYY-MM-DD): evidence dated after it is rejected. Default: today.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Import prior certificate replacements and successful SRV 6.23 requests.

    Each file is validated whole and imported in one transaction: a file with any invalid
    row imports nothing, and every problem is listed. Rows imported before are skipped.
    """
    from ecos_migration.inventory.evidence_import import import_evidence_file

    context = app_context(ctx)
    day = parse_day(on) or context.clock.today()
    engine = context.engine()
    for path in files:
        result = import_evidence_file(engine, path, day)
        context.console.print(
            f"{result.file}: {result.rows} rows; {result.imported} imported, "
            f"{result.already_imported} already imported.",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.add_typer(evidence_app, name="evidence")
