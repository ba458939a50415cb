"""Commands of the engine area: run, status, incidents and demo."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ecos_migration.cli.context import AppContext, app_context
from ecos_migration.errors import InputError
from ecos_migration.limits import MAX_DAILY_CAPACITY, MAX_RUN_DAYS

if TYPE_CHECKING:
    from ecos_migration.engine.demo import DemoPlan

_SIM_STATE_HELP = (
    "SQLite file of the simulated fleet and providers "
    "(default: beside a SQLite store, else ecos-migration-sim.sqlite)."
)


def _check_within_period(live: date, end: date, first: date | None, last: date | None) -> None:
    """Refuse simulated days before the ECoS Service Live Date or after the period's end."""
    if first is not None and first < live:
        raise InputError(
            f"--start {first} is before the ECoS Service Live Date {live}: no device may be "
            "migrated before it (period.live_date in the configuration)"
        )
    if last is not None and last > end:
        raise InputError(
            f"the run would end on {last}, after the migration period ends on {end}: give "
            f"--until {end} or fewer --days"
        )


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"invalid {option} {value!r}: expected a date as YYYY-MM-DD") from None


def _state_path(context: AppContext, given: Path | None) -> Path:
    from ecos_migration.providers.simulated.state import default_state_path

    if given is not None:
        return given
    return default_state_path(str(context.engine().url.render_as_string(hide_password=False)))


def _progress(context: AppContext) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=context.console,
    )


def run(  # noqa: PLR0917 - Typer passes each option as a parameter
    ctx: typer.Context,
    start: Annotated[
        str | None,
        typer.Option(
            help="First simulated day, YYYY-MM-DD (default: the stored run's first day, "
            "else the ECoS Service Live Date)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Last simulated day, YYYY-MM-DD, included.")
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_RUN_DAYS, help="Number of simulated days from the first day."),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(
            help="TOML scenario of failure profiles per Device Model (default: no faults).",
            dir_okay=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the simulated outcomes (default: 1).")
    ] = None,
    daily_capacity: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_DAILY_CAPACITY,
            help="Devices started per day (default: capacity.daily).",
        ),
    ] = None,
    sim_state: Annotated[Path | None, typer.Option(help=_SIM_STATE_HELP, dir_okay=False)] = None,
) -> None:
    """Run the migration over simulated days; run it again to resume after an interruption."""
    from ecos_migration.domain.error_strategy import load_error_strategy
    from ecos_migration.engine.session import open_simulation, remaining_days, resolve_run, run_days
    from ecos_migration.providers.simulated.scenario import load_scenario
    from ecos_migration.store.database import RUN_CACHE_MIB, use_sqlite_cache
    from ecos_migration.store.runs import DaySummary

    context = app_context(ctx)
    if (until is None) == (days is None):
        raise InputError("give exactly one of --until DATE and --days N")
    settings = context.settings
    engine = context.engine()
    use_sqlite_cache(engine, RUN_CACHE_MIB)
    # Validate every input before the run's parameters are stored.
    first = _parse_date(start, "--start")
    given_last = _parse_date(until, "--until")
    scenario_text = load_scenario(scenario)[1] if scenario is not None else None
    _check_within_period(settings.period.live_date, settings.period.effective_end_date, first, None)
    parameters = resolve_run(
        engine,
        seed=seed,
        start=first,
        scenario_text=scenario_text,
        default_start=settings.period.live_date,
    )
    last = given_last or parameters.start + timedelta(days=(days or 1) - 1)
    _check_within_period(settings.period.live_date, settings.period.effective_end_date, first, last)
    todo = remaining_days(engine, parameters.start, last)
    simulation = open_simulation(
        engine,
        settings,
        load_error_strategy(),
        parameters,
        _state_path(context, sim_state),
        daily_capacity=daily_capacity,
    )
    try:
        with _progress(context) as progress:
            task = progress.add_task("Migration run", total=len(todo), rate="")
            migrated = 0

            def report(summary: DaySummary) -> None:
                nonlocal migrated
                migrated += summary.migrated
                progress.console.print(summary.line())
                progress.update(task, advance=1, rate=f"{migrated:,} migrated in this run")

            run_days(simulation, todo, report)
    finally:
        simulation.close()
    if not todo:
        context.console.print(
            f"Nothing to run: every day from {parameters.start.isoformat()} to "
            f"{last.isoformat()} is already complete. --days and --until count from the run's "
            "first day; give a later --until (or more --days) to run further."
        )
        return
    context.console.print(
        f"Completed {len(todo)} day(s) up to {last.isoformat()} with seed {parameters.seed}."
    )


def status(
    ctx: typer.Context,
    as_json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the migration status: devices, eligibility and Device Models by state."""
    from ecos_migration.engine.status import migration_status, status_date

    context = app_context(ctx)
    with context.engine().connect() as connection:
        on = status_date(connection, context.clock.today())
        data = migration_status(connection, on, context.settings.eligibility.policy())
    if as_json_output:
        context.print_json(data)
        return
    _print_status(context, data)


def _print_status(context: AppContext, data: dict[str, Any]) -> None:
    table = Table(title=f"Migration status on {data['date']}")
    table.add_column("measure")
    table.add_column("devices", justify="right")
    for key in ("devices", "in_scope", "migrated", "in_progress", "awaiting_remediation"):
        table.add_row(key.replace("_", " "), f"{data[key]:,}")
    table.add_row("eligible", f"{data['eligible']:,}")
    for code, count in data["ineligible"].items():
        if count:
            table.add_row(f"ineligible: {code}", f"{count:,}")
    context.console.print(table)
    models = Table(title="Device Models by state")
    models.add_column("state")
    models.add_column("models", justify="right")
    for state, count in data["models"].items():
        models.add_row(state, str(count))
    context.console.print(models)


incidents_app = typer.Typer(
    help="List ECoS Migration Incidents, or resolve one.", no_args_is_help=False
)


@incidents_app.callback(invoke_without_command=True)
def incidents(
    ctx: typer.Context,
    as_json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every ECoS Migration Incident, oldest first."""
    from ecos_migration.store.incidents import list_incidents

    if ctx.invoked_subcommand is not None:
        return
    context = app_context(ctx)
    with context.engine().connect() as connection:
        records = list_incidents(connection)
    if as_json_output:
        context.print_json(
            [
                {
                    "id": r.id,
                    "category": r.category,
                    "opened_on": r.opened_on.isoformat(),
                    "target_resolution_at": r.target_resolution_at.isoformat(),
                    "status": r.status,
                    "model": r.model,
                    "title": r.title,
                    "resolved_on": r.resolved_on.isoformat() if r.resolved_on else None,
                    "note": r.note,
                }
                for r in records
            ]
        )
        return
    _print_incidents(context, records)


def _print_incidents(context: AppContext, records: Any) -> None:
    table = Table(title="ECoS Migration Incidents")
    for column in ("id", "category", "opened", "target resolution", "status", "Device Model"):
        table.add_column(column)
    table.add_column("title", overflow="fold")
    for r in records:
        table.add_row(
            str(r.id),
            str(r.category),
            r.opened_on.isoformat(),
            r.target_resolution_at.strftime("%Y-%m-%d %H:%M"),
            r.status,
            r.model or "",
            r.title,
        )
    context.console.print(table)


@incidents_app.command("resolve")
def resolve(
    ctx: typer.Context,
    incident_id: Annotated[int, typer.Argument(metavar="ID", help="Incident id.")],
    note: Annotated[str, typer.Option(help="How the incident was resolved.")],
) -> None:
    """Mark an incident resolved, with a note."""
    from ecos_migration.engine.status import status_date
    from ecos_migration.store.incidents import resolve_incident

    context = app_context(ctx)
    with context.engine().begin() as connection:
        on = status_date(connection, context.clock.today())
        resolve_incident(connection, incident_id, note, on)
    context.console.print(f"Incident {incident_id} resolved on {on.isoformat()}.")


def demo(  # noqa: PLR0917 - Typer passes each option as a parameter
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            help="Folder for the demo's files: inventory and evidence files, scenario, "
            "simulator state and the reports/ folder."
        ),
    ] = Path("demo"),
    devices: Annotated[int, typer.Option(min=100, help="Devices in the generated fleet.")] = 30000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the fleet and the outcomes.")] = 1,
    every: Annotated[
        int, typer.Option(min=1, help="Print a summary line every this many days.")
    ] = 30,
    daily_capacity: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_DAILY_CAPACITY,
            help="Devices started per day (default: DEVICES / 500, so that the migration "
            "spreads over most of the period).",
        ),
    ] = None,
) -> None:
    """Generate a realistic fleet and run the whole migration period against it.

    The demo starts fresh each time: a SQLite database inside OUT is deleted first; any
    other database must hold no devices.
    """
    from ecos_migration.domain.error_strategy import load_error_strategy
    from ecos_migration.engine.demo import DemoPlan, run_demo
    from ecos_migration.providers.simulated.fleet import truth_check
    from ecos_migration.providers.simulated.generator import DEMO_SCENARIO
    from ecos_migration.providers.simulated.state import default_state_path
    from ecos_migration.store.database import upgrade_schema
    from ecos_migration.store.runs import DaySummary

    context = app_context(ctx)
    out.mkdir(parents=True, exist_ok=True)
    engine = context.engine(require_schema=False)
    database = engine.url.database
    if (
        engine.dialect.name == "sqlite"
        and database
        and Path(database).resolve().is_relative_to(out.resolve())
    ):
        engine.dispose()
        for suffix in ("", "-wal", "-shm", ".sim.sqlite", ".sim.sqlite-wal", ".sim.sqlite-shm"):
            Path(database + suffix).unlink(missing_ok=True)
    upgrade_schema(engine)
    settings = context.settings
    (out / "scenario.toml").write_text(DEMO_SCENARIO)
    state_path = default_state_path(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name != "sqlite":
        state_path = out / "simulator.sqlite"
        shutil.rmtree(state_path, ignore_errors=True)
        state_path.unlink(missing_ok=True)
    plan = DemoPlan(
        devices=devices,
        seed=seed,
        first=settings.period.live_date,
        last=settings.period.effective_end_date,
        daily_capacity=daily_capacity or max(20, devices // 500),
    )
    total = (plan.last - plan.first).days + 1
    with _progress(context) as progress:
        task = progress.add_task("Demo migration period", total=total, rate="")
        migrated = 0

        def report(summary: DaySummary) -> None:
            nonlocal migrated
            migrated += summary.migrated
            progress.update(task, advance=1, rate=f"{migrated:,} migrated")
            index = (summary.day - plan.first).days
            if index % every == 0 or summary.day == plan.last:
                progress.console.print(summary.line())

        def note(day: date, text: str) -> None:
            progress.console.print(f"[cyan]{day.isoformat()}: {text}[/]")

        simulation = run_demo(
            engine,
            settings,
            load_error_strategy(),
            plan,
            state_path,
            out=out,
            on_day=report,
            on_note=note,
        )
    try:
        mismatches = truth_check(engine, simulation.parties, settings.eligibility.policy())
    finally:
        simulation.close()
    _print_demo_results(context, plan, every, len(mismatches))
    _write_demo_reports(context, out / "reports", plan.last)


def _write_demo_reports(context: AppContext, folder: Path, on: date) -> None:
    from ecos_migration.reporting import write_all_reports

    with context.console.status("Writing the reports"):
        reports = write_all_reports(context.engine(), context.settings, folder, on)
    context.console.print(f"\nReports for {on.isoformat()} written to {folder}/:")
    context.console.print(
        f"  supplier reports ({reports.supplier_count} suppliers): {reports.suppliers}/"
    )
    context.console.print(f"  progress to the Secretary of State: {reports.progress_html}")
    context.console.print(f"  published Non-Migratable Device Models: {reports.non_migratable}")
    context.console.print(f"  deadline findings: {reports.compliance}")


def _print_demo_results(context: AppContext, plan: DemoPlan, every: int, mismatches: int) -> None:
    from ecos_migration.engine.status import migration_status
    from ecos_migration.store.incidents import list_incidents
    from ecos_migration.store.models import all_models
    from ecos_migration.store.runs import as_json, day_summaries

    with context.engine().connect() as connection:
        summaries = day_summaries(connection)
        data = migration_status(connection, plan.last, context.settings.eligibility.policy())
        models = all_models(connection)
        records = list_incidents(connection)
    table = Table(title=f"Every {every} days")
    for column in ("day", "started", "migrated", "failed", "retried", "remaining", "eligible"):
        table.add_column(column, justify="right")
    for summary in summaries:
        if (summary.day - plan.first).days % every == 0 or summary.day == plan.last:
            row = as_json(summary)
            table.add_row(*(f"{row[k]}" if k == "day" else f"{row[k]:,}" for k in row))
    context.console.print(table)
    _print_status(context, data)
    model_table = Table(title="Device Models")
    for column in ("Device Model", "state", "reason"):
        model_table.add_column(column, overflow="fold")
    for model in models:
        model_table.add_row(str(model.key), model.state.value, model.state_reason or "")
    context.console.print(model_table)
    _print_incidents(context, records)
    verdict = f"{mismatches} mismatches" if mismatches else "every recorded credential matches"
    context.console.print(f"Truth check against the simulated fleet: {verdict}.")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.command()(run)
    app.command()(status)
    app.add_typer(incidents_app, name="incidents")
    app.command()(demo)
