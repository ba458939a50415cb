"""The demo: a generated fleet run through the whole migration period.

Besides the daily loop, the demo plays what happens outside the product during the period:
suppliers send SRV 6.23 evidence on the dates the generated fleet gives, and part of the
devices of the defective firmware are upgraded to the fixed firmware (a later inventory
snapshot) once the defect has been found. The fleet, the evidence and the snapshot are
written as files and loaded through the same importers an operator uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine

from ecos_migration.clock import FixedClock
from ecos_migration.config import Settings
from ecos_migration.domain.device import Credential, DeviceModelKey, MigrationState
from ecos_migration.domain.error_strategy import ErrorStrategy
from ecos_migration.domain.evidence import Evidence
from ecos_migration.engine.session import Simulation, open_simulation, resolve_run
from ecos_migration.errors import StateError
from ecos_migration.inventory.csv_writer import write_evidence_csv, write_inventory_csv
from ecos_migration.inventory.evidence_import import import_evidence_file
from ecos_migration.inventory.importer import (
    ImportOptions,
    InventoryFormat,
    import_inventory_file,
)
from ecos_migration.providers.simulated.fleet import sync_fleet
from ecos_migration.providers.simulated.generator import (
    DEMO_SCENARIO,
    GeneratedFleet,
    evidence_rows,
    generate_fleet,
    upgrade_snapshot,
)
from ecos_migration.store.devices import DeviceRecord, get_device
from ecos_migration.store.models import all_models
from ecos_migration.store.runs import DaySummary, migration_state_counts

# Day of the period on which suppliers start upgrading the defective firmware.
UPGRADE_AFTER_DAYS = 120
UPGRADE_SHARE = 0.6


@dataclass(frozen=True)
class DemoPlan:
    """The fleet size, seed, days and capacity of one demo run."""

    devices: int
    seed: int
    first: date
    last: date
    daily_capacity: int | None = None


def _import_inventory(
    engine: Engine, settings: Settings, path: Path, records: list[DeviceRecord], day: date
) -> None:
    write_inventory_csv(path, records)
    options = ImportOptions(
        format=InventoryFormat.CSV,
        on=day,
        now=FixedClock(day).now(),
        policy=settings.eligibility.policy(),
        actor="demo inventory",
    )
    import_inventory_file(engine, path, options)


def _import_evidence(engine: Engine, path: Path, items: list[Evidence], day: date) -> None:
    with engine.connect() as connection:
        models: dict[int, DeviceModelKey] = {
            model.id: model.key for model in all_models(connection)
        }
    write_evidence_csv(path, items, models)
    import_evidence_file(engine, path, day)


def load_fleet(
    engine: Engine, settings: Settings, fleet: GeneratedFleet, plan: DemoPlan, out: Path
) -> None:
    """Import the generated inventory and the evidence suppliers already hold, as files."""
    with engine.connect() as connection:
        if any(migration_state_counts(connection).values()):
            raise StateError(
                f"the database {engine.url!r} already holds devices: the demo needs an empty one"
            )
    _import_inventory(engine, settings, out / "inventory.csv", fleet.devices, plan.first)
    with engine.connect() as connection:
        ids = {model.key: model.id for model in all_models(connection)}
    _import_evidence(
        engine, out / "evidence.csv", evidence_rows(fleet, fleet.evidence_keys, ids), plan.first
    )


def _upgrade(
    engine: Engine, settings: Settings, fleet: GeneratedFleet, day: date, *, seed: int, out: Path
) -> int:
    """Import the inventory snapshot of the firmware upgrade; return how many devices moved."""
    records: list[DeviceRecord] = []
    with engine.connect() as connection:
        for record in upgrade_snapshot(fleet, UPGRADE_SHARE, seed):
            current = get_device(connection, record.id)
            if current is None or current["migration_state"] == MigrationState.MIGRATED.value:
                continue
            # A snapshot carries the device's current credential, not the one it had before.
            records.append(record._replace(credential=Credential(current["credential"])))
    _import_inventory(engine, settings, out / f"inventory-{day.isoformat()}.csv", records, day)
    return len(records)


def run_demo(
    engine: Engine,
    settings: Settings,
    strategy: ErrorStrategy,
    plan: DemoPlan,
    state_path: Path,
    *,
    out: Path,
    on_day: Callable[[DaySummary], None] | None = None,
    on_note: Callable[[date, str], None] | None = None,
) -> Simulation:
    """Generate the fleet, load it and run every day of the plan; return the simulation."""
    fleet = generate_fleet(plan.devices, plan.seed, plan.first)
    load_fleet(engine, settings, fleet, plan, out)
    parameters = resolve_run(
        engine,
        seed=plan.seed,
        start=plan.first,
        scenario_text=DEMO_SCENARIO,
        default_start=plan.first,
    )
    simulation = open_simulation(
        engine, settings, strategy, parameters, state_path, daily_capacity=plan.daily_capacity
    )
    upgrade_day = plan.first + timedelta(days=UPGRADE_AFTER_DAYS)
    day = plan.first
    while day <= plan.last:
        with engine.connect() as connection:
            ids = {model.key: model.id for model in all_models(connection)}
        arrived = evidence_rows(fleet, fleet.late_evidence_keys, ids, until=day, since=day)
        if arrived:
            _import_evidence(engine, out / f"evidence-{day.isoformat()}.csv", arrived, day)
        if arrived and on_note is not None:
            on_note(day, f"suppliers sent {len(arrived)} SRV 6.23 evidence records")
        if day == upgrade_day:
            moved = _upgrade(engine, settings, fleet, day, seed=plan.seed, out=out)
            sync_fleet(engine, simulation.parties, settings.eligibility.policy())
            if on_note is not None:
                on_note(day, f"suppliers upgraded {moved} devices to the fixed firmware")
        summary = simulation.engine.run_day(day)
        if on_day is not None:
            on_day(summary)
        day += timedelta(days=1)
    return simulation
