"""Commands of the eligibility area: the fleet's eligibility summary and one device's view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from ecos_migration.cli.context import app_context
from ecos_migration.cli.dates import parse_day
from ecos_migration.domain.eligibility import Reason

if TYPE_CHECKING:
    from ecos_migration.inventory.device_view import DeviceView
    from ecos_migration.store.eligibility import EligibilitySummary

device_app = typer.Typer(
    help="Show one device: facts, eligibility, evidence and events.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
OnOption = Annotated[
    str | None,
    typer.Option(
        "--on",
        help="Date to evaluate eligibility on (YYYY-MM-DD). Default: today.",
        show_default=False,
    ),
]


def eligibility_command(
    ctx: typer.Context, on: OnOption = None, as_json: JsonOption = False
) -> None:
    """Count eligible devices and ineligible ones by reason, device type and model state."""
    from ecos_migration.store.eligibility import summarise_eligibility

    context = app_context(ctx)
    day = parse_day(on) or context.clock.today()
    with context.engine().connect() as connection:
        summary = summarise_eligibility(connection, day, context.settings.eligibility.policy())
    if as_json:
        context.print_json(summary.to_json())
        return
    _print_summary(context.console, summary)


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _print_summary(console: Console, summary: EligibilitySummary) -> None:
    totals = Table(title=f"Eligibility on {summary.on.isoformat()}")
    totals.add_column("Devices", justify="right")
    totals.add_column("In scope", justify="right")
    totals.add_column("Eligible", justify="right")
    totals.add_column("Eligible of in scope", justify="right")
    totals.add_row(
        f"{summary.devices:,}",
        f"{summary.in_scope:,}",
        f"{summary.eligible:,}",
        _share(summary.eligible, summary.in_scope),
    )
    console.print(totals)

    reasons = Table(title="Ineligible devices by primary reason (in precedence order)")
    reasons.add_column("Reason", no_wrap=True)
    reasons.add_column("Devices", justify="right")
    reasons.add_column("Meaning")
    for reason in Reason:
        reasons.add_row(reason.value, f"{summary.ineligible[reason]:,}", reason.description)
    console.print(reasons)

    for title, groups in (
        ("By device type", summary.by_device_type),
        ("By Device Model state", summary.by_model_state),
    ):
        table = Table(title=title)
        table.add_column("Group", no_wrap=True)
        table.add_column("Devices", justify="right")
        table.add_column("Eligible", justify="right")
        for name, counts in sorted(groups.items()):
            table.add_row(name, f"{counts.devices:,}", f"{counts.eligible:,}")
        console.print(table)


@device_app.command("show")
def show_command(
    ctx: typer.Context,
    device_id: Annotated[
        str,
        typer.Argument(
            help="EUI-64 of the device, as 00-DB-12-34-56-78-90-A0 or 00DB1234567890A0."
        ),
    ],
    on: OnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a device's facts, Device Model, eligibility, evidence and events."""
    from ecos_migration.inventory.device_view import show_device

    context = app_context(ctx)
    day = parse_day(on) or context.clock.today()
    with context.engine().connect() as connection:
        view = show_device(connection, device_id, day, context.settings.eligibility.policy())
    if as_json:
        context.print_json(view.to_json())
        return
    _print_view(context.console, view)


def _print_view(console: Console, view: DeviceView) -> None:
    facts = Table(title=f"Device {view.facts['id']}", show_header=False)
    facts.add_column("Field", no_wrap=True)
    facts.add_column("Value")
    for key, value in view.facts.items():
        facts.add_row(key, "" if value is None else str(value))
    facts.add_row("device model", str(view.model.key) if view.model else "-")
    facts.add_row("model state", view.model.state.value if view.model else "-")
    console.print(facts)

    if view.reason is None:
        console.print(f"Eligible on {view.on.isoformat()}.")
    else:
        again = (
            f" It becomes eligible again on {view.eligible_again_on.isoformat()} unless "
            "another reason applies then."
            if view.eligible_again_on
            else ""
        )
        console.print(
            f"Not eligible on {view.on.isoformat()}: {view.reason} - "
            f"{view.reason_description}{again}",
            soft_wrap=True,
        )

    evidence = Table(title="Evidence")
    for name in ("Date", "Kind", "Source", "Reference"):
        evidence.add_column(name)
    for item in view.evidence:
        evidence.add_row(
            item["occurred_on"].isoformat(), item["kind"], item["source"], item["reference"] or ""
        )
    console.print(evidence)

    events = Table(title="Events")
    for name in ("Date", "Kind", "Field", "Old", "New", "Actor", "Reason"):
        events.add_column(name, no_wrap=name in ("Date", "Kind"))
    for event in view.events:
        events.add_row(
            event["occurred_on"].isoformat(),
            event["kind"],
            event["field"] or "",
            event["old_value"] or "",
            event["new_value"] or "",
            event["actor"] or "",
            event["reason"] or "",
        )
    console.print(events)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.command("eligibility")(eligibility_command)
    app.add_typer(device_app, name="device")
