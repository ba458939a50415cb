"""Commands of the models area: listing Device Models and operators' controls on them."""

from __future__ import annotations

import csv
import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import JustifyMethod
from rich.table import Table

from ecos_migration.cli.context import AppContext, app_context
from ecos_migration.cli.dates import parse_day
from ecos_migration.domain.device import DeviceModelKey
from ecos_migration.domain.evidence import EvidenceKind
from ecos_migration.domain.models import AppealStatus, ModelControl
from ecos_migration.errors import InputError
from ecos_migration.inventory.problems import Problem, describe_problems

if TYPE_CHECKING:
    from ecos_migration.inventory.controls import AppliedControl, ControlRequest

models_app = typer.Typer(
    help="List Device Models and control them (suspend, resume, Non-Migratable, appeals).",
    invoke_without_command=True,
)
upgrades_app = typer.Typer(
    help="Firmware upgrades allowed between Device Models.", no_args_is_help=True
)
models_app.add_typer(upgrades_app, name="upgrades")

_EVIDENCE_SHORT = {
    EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS: "TCoS>TCoS",
    EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS: "TCoS>ECoS",
    EvidenceKind.SRV_6_23_SUCCESS: "6.23",
}


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who applies the control. Default: the operating system user.",
        show_default=False,
    ),
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why the control is applied.")]


def _parse_model(text: str) -> DeviceModelKey:
    try:
        return DeviceModelKey.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _request(context: AppContext, actor: str | None, reason: str) -> ControlRequest:
    from ecos_migration.inventory.controls import ControlRequest

    if not reason.strip():
        raise typer.BadParameter("--reason must not be empty", param_hint="--reason")
    return ControlRequest(
        actor or _default_actor(), reason.strip(), context.clock.today(), context.clock.now()
    )


@models_app.callback()
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Date the eligible counts apply to (YYYY-MM-DD). Default: today.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """List every Device Model with its state, devices, eligible devices and evidence."""
    from ecos_migration.inventory.model_listing import list_models

    if ctx.invoked_subcommand is not None:
        return
    context = app_context(ctx)
    day = parse_day(on) or context.clock.today()
    with context.engine().connect() as connection:
        summaries = list_models(connection, day, context.settings.eligibility.policy())
    if as_json:
        context.print_json([summary.to_json() for summary in summaries])
        return
    table = Table(title=f"Device Models on {day.isoformat()}")
    for name in (
        "Device Model",
        "State",
        "Reason",
        "Devices",
        "Eligible",
        "Proving",
        "Migrated",
        "Failed",
        "Evidence",
        "Upgrade targets",
    ):
        justify: JustifyMethod = (
            "right" if name in ("Devices", "Eligible", "Proving", "Migrated", "Failed") else "left"
        )
        table.add_column(
            name,
            justify=justify,
            no_wrap=name in ("Device Model", "State"),
        )
    for summary in summaries:
        counts = summary.counts
        evidence = ", ".join(
            f"{_EVIDENCE_SHORT[kind]} {counts.evidence[kind]}"
            for kind in EvidenceKind
            if counts.evidence[kind]
        )
        table.add_row(
            str(summary.record.key),
            summary.record.state.value,
            summary.record.state_reason or "",
            f"{counts.devices:,}",
            f"{summary.eligible:,}",
            f"{counts.proving_devices:,}",
            f"{counts.migrated:,}",
            f"{counts.failed:,}",
            evidence or "-",
            ", ".join(summary.upgrade_targets) or "-",
        )
    context.console.print(table)


def _report(
    context: AppContext, applied: list[AppliedControl] | tuple[AppliedControl, ...], empty: str
) -> None:
    if not applied:
        context.console.print(empty)
    for item in applied:
        context.console.print(
            f"{item.model.key}: {item.model.state.value} -> {item.transition.new_state.value}",
            soft_wrap=True,
        )


def _control(
    ctx: typer.Context,
    model: str | None,
    *,
    every: bool,
    control: ModelControl,
    actor: str | None,
    reason: str,
) -> None:
    from ecos_migration.inventory.controls import control_all_models, control_model

    if (model is None) == (not every):
        raise typer.BadParameter("name one Device Model or give --all, not both")
    context = app_context(ctx)
    request = _request(context, actor, reason)
    with context.engine().begin() as connection:
        if every:
            applied = list(control_all_models(connection, control, request))
        else:
            assert model is not None
            applied = [control_model(connection, _parse_model(model), control, request)]
    _report(context, applied, "No Device Model was in a state this control applies to.")


ModelArgument = Annotated[
    str | None,
    typer.Argument(
        help="Device Model as TYPE/MANUFACTURER/MODEL/FIRMWARE, e.g. ESME/AB01/010A030B/0002012F.",
        show_default=False,
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Apply to every Device Model.")]


@models_app.command("suspend")
def suspend_command(
    ctx: typer.Context,
    reason: ReasonOption,
    model: ModelArgument = None,
    every: AllOption = False,
    actor: ActorOption = None,
) -> None:
    """All stop: start no new device of the model (or of every model) until resumed."""
    _control(ctx, model, every=every, control=ModelControl.SUSPEND, actor=actor, reason=reason)


@models_app.command("resume")
def resume_command(
    ctx: typer.Context,
    reason: ReasonOption,
    model: ModelArgument = None,
    every: AllOption = False,
    actor: ActorOption = None,
) -> None:
    """Resume a suspended model (or every one): it returns to the state it was suspended from."""
    _control(ctx, model, every=every, control=ModelControl.RESUME, actor=actor, reason=reason)


@models_app.command("non-migratable")
def non_migratable_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Device Model as TYPE/MANUFACTURER/MODEL/FIRMWARE.")],
    reason: ReasonOption,
    actor: ActorOption = None,
) -> None:
    """Determine a Device Model Non-Migratable: its devices are no longer attempted."""
    _control(
        ctx, model, every=False, control=ModelControl.NON_MIGRATABLE, actor=actor, reason=reason
    )


@models_app.command("migratable")
def migratable_command(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Device Model as TYPE/MANUFACTURER/MODEL/FIRMWARE.")],
    reason: ReasonOption,
    actor: ActorOption = None,
) -> None:
    """Make a Non-Migratable model migratable again; it returns to its state before."""
    _control(ctx, model, every=False, control=ModelControl.MIGRATABLE, actor=actor, reason=reason)


@models_app.command("appeal")
def appeal_command(  # noqa: PLR0917 - one parameter per command-line option
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Device Model as TYPE/MANUFACTURER/MODEL/FIRMWARE.")],
    by: Annotated[str, typer.Option("--by", help="Supplier id of the appealing Supplier.")],
    status: Annotated[
        AppealStatus,
        typer.Option(
            "--status",
            case_sensitive=False,
            help="LODGED, UPHELD (the determination stands) or OVERTURNED (the model becomes "
            "migratable).",
        ),
    ],
    note: Annotated[
        str | None, typer.Option("--note", help="Free text kept with the appeal.")
    ] = None,
    actor: ActorOption = None,
) -> None:
    """Record a Supplier's appeal against a Non-Migratable determination, and its outcome."""
    from ecos_migration.inventory.controls import ControlRequest, appeal_model

    context = app_context(ctx)
    request = ControlRequest(
        actor or _default_actor(), (note or "").strip(), context.clock.today(), context.clock.now()
    )
    with context.engine().begin() as connection:
        applied = appeal_model(connection, _parse_model(model), by, status, request)
    context.console.print(f"Recorded appeal {status.value} by {by} for {model}.", soft_wrap=True)
    if applied is not None:
        _report(context, [applied], "")


@upgrades_app.command("import")
def upgrades_import_command(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns from_model,to_model, each TYPE/MANUFACTURER/MODEL/FIRMWARE.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
) -> None:
    """Replace the default upgrade rule (any other firmware of the same model) with a list."""
    from ecos_migration.store.upgrades import replace_allowed_upgrades

    context = app_context(ctx)
    pairs = _read_upgrades(file)
    with context.engine().begin() as connection:
        count = replace_allowed_upgrades(connection, pairs, file.name)
    context.console.print(
        f"{count} allowed upgrades imported from {file}; they replace the default rule.",
        soft_wrap=True,
    )


_UPGRADES_HINT = "Fix the file and import it again; the stored list was not changed."


def _read_upgrades(file: Path) -> list[tuple[DeviceModelKey, DeviceModelKey]]:
    from ecos_migration.inventory.csv_reader import check_header

    columns = ("from_model", "to_model")
    name = str(file)
    pairs: list[tuple[DeviceModelKey, DeviceModelKey]] = []
    problems: list[Problem] = []
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            problems.extend(check_header(name, header, columns))
            if problems:
                raise InputError(
                    describe_problems(name, problems, len(problems), hint=_UPGRADES_HINT)
                )
            assert header is not None
            names = [column.strip() for column in header]
            for fields in reader:
                if not fields:
                    continue
                row = dict(zip(names, (value.strip() for value in fields), strict=False))
                keys = []
                for column in columns:
                    try:
                        keys.append(DeviceModelKey.parse(row.get(column, "")))
                    except ValueError as exc:
                        problems.append(
                            Problem(
                                name, f"line {reader.line_num}", column, row.get(column), str(exc)
                            )
                        )
                if len(keys) == 2:
                    pairs.append((keys[0], keys[1]))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {name}: {exc}") from exc
    if problems:
        raise InputError(describe_problems(name, problems, len(problems), hint=_UPGRADES_HINT))
    return pairs


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.add_typer(models_app, name="models")
