"""Commands of the reports area: ``report suppliers|progress|non-migratable|all`` and
``compliance``."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecos_migration.cli.context import AppContext, app_context
from ecos_migration.errors import InputError

report_app = typer.Typer(
    name="report",
    help="Write the supplier reports, the progress report and the public Non-Migratable list.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Folder to write into; an earlier report in it is replaced whole.",
        file_okay=False,
    ),
]
OnOption = Annotated[
    str | None,
    typer.Option(
        "--on",
        help="Report date as YYYY-MM-DD (default: the last simulated run day, else today).",
        show_default=False,
    ),
]


def _report_date(context: AppContext, text: str | None) -> date:
    from ecos_migration.store.reporting import latest_activity_day

    if text is not None:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InputError(f"invalid --on date {text!r}: expected YYYY-MM-DD") from None
    with context.engine().connect() as connection:
        last = latest_activity_day(connection)
    return last or context.clock.today()


@report_app.command("suppliers")
def report_suppliers(ctx: typer.Context, out: OutOption, on: OnOption = None) -> None:
    """Write one folder per supplier with its CSV reports and summary.xlsx.

    Each folder contains failed-migrations.csv, non-migratable-devices.csv and
    actionable-ineligible.csv (communications failure, installed but not commissioned,
    awaiting remediation).
    """
    from ecos_migration.domain.error_strategy import load_error_strategy
    from ecos_migration.reporting.suppliers import write_supplier_reports
    from ecos_migration.store.reporting import supplier_ids

    context = app_context(ctx)
    day = _report_date(context, on)
    engine = context.engine()
    with engine.connect() as connection:
        total = len(supplier_ids(connection))
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=context.error_console, transient=True) as progress:
        task = progress.add_task("Supplier folders", total=total)
        result = write_supplier_reports(
            engine,
            out,
            on=day,
            policy=context.settings.eligibility.policy(),
            strategy=load_error_strategy(),
            on_supplier=lambda _supplier: progress.advance(task),
        )
    table = Table(title=f"Supplier reports on {day.isoformat()} in {out}")
    for column in ("Supplier", "Failed migrations", "Non-Migratable devices", "Actionable"):
        table.add_column(column, justify="left" if column == "Supplier" else "right")
    for supplier_id, counts in sorted(result.suppliers.items()):
        table.add_row(
            supplier_id,
            f"{counts.failed_migrations:,}",
            f"{counts.non_migratable_devices:,}",
            f"{counts.actionable_ineligible:,}",
        )
    context.console.print(table)


@report_app.command("progress")
def report_progress(ctx: typer.Context, out: OutOption, on: OnOption = None) -> None:
    """Write progress.html, progress.json and the PNG charts for the Secretary of State.

    The forecast uses the mean daily migrations of the last 28 days.
    """
    from ecos_migration.domain.error_strategy import load_error_strategy
    from ecos_migration.reporting.compliance import period_from_settings
    from ecos_migration.reporting.progress import progress_figures, write_progress_report

    context = app_context(ctx)
    day = _report_date(context, on)
    settings = context.settings
    figures = progress_figures(
        context.engine(),
        on=day,
        period=period_from_settings(settings.period),
        policy=settings.eligibility.policy(),
        strategy=load_error_strategy(),
    )
    page = write_progress_report(out, figures)
    forecast = figures.forecast
    completion = forecast.completion_date.isoformat() if forecast.completion_date else "never"
    context.console.print(
        f"Migrated {figures.migrated:,} of {figures.in_scope:,} in-scope devices on "
        f"{day.isoformat()}; {figures.eligible:,} eligible remain. At "
        f"{forecast.rate_per_day:,.1f} devices a day they are done on {completion} "
        f"(period end {forecast.period_end.isoformat()}); "
        f"{forecast.stranded_at_end:,} devices would be stranded."
    )
    context.console.print(f"Wrote {page}")


@report_app.command("non-migratable")
def report_non_migratable(ctx: typer.Context, out: OutOption, on: OnOption = None) -> None:
    """Write the public list of Non-Migratable Device Models as CSV and HTML."""
    from ecos_migration.reporting.public import PUBLIC_CSV, PUBLIC_HTML, write_non_migratable_list

    context = app_context(ctx)
    day = _report_date(context, on)
    count = write_non_migratable_list(context.engine(), out, on=day)
    context.console.print(
        f"Wrote {count:,} Non-Migratable Device Models to {out / PUBLIC_CSV} "
        f"and {out / PUBLIC_HTML}"
    )


@report_app.command("all")
def report_all(ctx: typer.Context, out: OutOption, on: OnOption = None) -> None:
    """Write every report, and the deadline findings, into one folder."""
    from ecos_migration.reporting import write_all_reports

    context = app_context(ctx)
    day = _report_date(context, on)
    written = write_all_reports(context.engine(), context.settings, out, day)
    context.console.print(
        f"Wrote reports on {day.isoformat()} for {written.supplier_count:,} suppliers to "
        f"{out}: {written.suppliers}, {written.progress_html}, {written.non_migratable}, "
        f"{written.compliance}"
    )


def compliance(
    ctx: typer.Context,
    on: OnOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every finding as JSON instead of tables.")
    ] = False,
) -> None:
    """Check the deadlines of the migration period, per supplier and for DCC.

    Lists TCoS installs after the supplier cut-off, hubs whose GPF holds TCoS after the hub
    cut-off, TCoS-installation alerts (suppressed during the period, raised after it) and,
    from the period end, stranded devices.
    """
    from ecos_migration.reporting.compliance import compliance_report, period_from_settings

    context = app_context(ctx)
    day = _report_date(context, on)
    settings = context.settings
    report = compliance_report(
        context.engine(),
        on=day,
        period=period_from_settings(settings.period),
        in_scope_types=frozenset(settings.eligibility.in_scope_device_types),
    )
    if as_json:
        context.print_json(report.to_json())
        return

    dates = report.dates
    period = Table(title=f"Migration period on {day.isoformat()}: {dates.phase.value}")
    period.add_column("Date")
    period.add_column("Rule")
    period.add_row(dates.live_date.isoformat(), "ECoS Service Live Date: the period begins")
    period.add_row(
        dates.hub_cutoff_date.isoformat(), "DCC stops delivering hubs whose GPF holds TCoS"
    )
    period.add_row(dates.supplier_cutoff_date.isoformat(), "Suppliers stop installing TCoS")
    period.add_row(dates.end_date.isoformat(), "Period end: devices holding TCoS are stranded")
    for ext in dates.extensions:
        period.add_row(
            ext.new_end_date.isoformat(),
            f"Extension granted by {ext.granted_by} on {ext.granted_on.isoformat()}",
        )
    context.console.print(period)

    findings = Table(title="Findings per supplier")
    for column in (
        "Supplier",
        "TCoS after cut-off",
        "Alerts suppressed",
        "Alerts raised",
        "Stranded",
    ):
        findings.add_column(column, justify="left" if column == "Supplier" else "right")
    alerts = report.alert_counts()
    suppliers = sorted(set(report.supplier_findings) | set(alerts) | set(report.stranded))
    for supplier in suppliers:
        supplier_alerts = alerts.get(supplier, Counter[str]())
        findings.add_row(
            supplier,
            f"{len(report.supplier_findings.get(supplier, [])):,}",
            f"{supplier_alerts['SUPPRESSED']:,}",
            f"{supplier_alerts['RAISED']:,}",
            f"{len(report.stranded.get(supplier, [])):,}",
        )
    context.console.print(findings)
    context.console.print(
        f"DCC: {len(report.hub_findings):,} hubs whose GPF holds TCoS were installed or "
        f"commissioned on or after the hub cut-off {dates.hub_cutoff_date.isoformat()}."
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.add_typer(report_app)
    app.command("compliance")(compliance)
