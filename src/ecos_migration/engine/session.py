"""Setting up a run against the simulated fleet, and resuming one stored in the database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from ecos_migration.clock import FixedClock
from ecos_migration.config import Settings
from ecos_migration.domain.error_strategy import ErrorStrategy
from ecos_migration.engine.run import DEFAULT_CHUNK_SIZE, MigrationEngine, days_between
from ecos_migration.engine.steps import Providers
from ecos_migration.errors import InputError
from ecos_migration.providers.simulated.fleet import sync_fleet
from ecos_migration.providers.simulated.parties import SimulatedParties
from ecos_migration.providers.simulated.scenario import parse_scenario
from ecos_migration.providers.simulated.state import SimulatorState
from ecos_migration.store.models import all_models
from ecos_migration.store.runs import (
    DaySummary,
    RunParameters,
    completed_days,
    store_run,
    stored_run,
)

logger = logging.getLogger(__name__)

DEFAULT_SEED = 1


def resolve_run(
    engine: Engine,
    *,
    seed: int | None,
    start: date | None,
    scenario_text: str | None,
    default_start: date,
) -> RunParameters:
    """Return the run's parameters: those stored by an earlier run, or new ones, stored now.

    A resumed run must use the seed and scenario it started with, or it would not be the
    same run; a different one is an input error.
    """
    with engine.begin() as connection:
        stored = stored_run(connection)
        if stored is None:
            parameters = RunParameters(
                seed=DEFAULT_SEED if seed is None else seed,
                start=start or default_start,
                scenario_text=scenario_text or "",
            )
            store_run(connection, parameters)
            return parameters
    if seed is not None and seed != stored.seed:
        raise InputError(
            f"this database holds a run with seed {stored.seed}, not {seed}: "
            "leave out --seed to resume it, or use a new database"
        )
    if scenario_text is not None and scenario_text != stored.scenario_text:
        raise InputError(
            "this database holds a run with another scenario: leave out --scenario to "
            "resume it with its own, or use a new database"
        )
    if start is not None and start != stored.start:
        raise InputError(
            f"this database contains a run that started on {stored.start}, not {start}: leave "
            "out --start to resume it from the day after its last completed day, or use a "
            "new database"
        )
    return RunParameters(stored.seed, stored.start, stored.scenario_text)


@dataclass
class Simulation:
    """A store engine wired to the simulated fleet and providers."""

    parties: SimulatedParties
    engine: MigrationEngine

    def close(self) -> None:
        """Release the simulator's state file."""
        self.parties.state.close()


def open_simulation(
    engine: Engine,
    settings: Settings,
    strategy: ErrorStrategy,
    parameters: RunParameters,
    state_path: Path,
    *,
    daily_capacity: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    before_chunk: Callable[[date, int], None] | None = None,
) -> Simulation:
    """Open (or create) the simulator state and an engine running against it."""
    scenario = parse_scenario(parameters.scenario_text, "the run's scenario")
    with engine.connect() as connection:
        known = {str(model.key) for model in all_models(connection)}
    unknown = sorted(set(scenario.models) - known)
    if unknown:
        raise InputError(
            f"the scenario names Device Models that are not in the inventory: "
            f"{', '.join(unknown)}. Write each as TYPE/MANUFACTURER/MODEL/FIRMWARE exactly as "
            "`ecos-migration models` lists it"
        )
    state = SimulatorState(state_path)
    parties = SimulatedParties(state, scenario, parameters.seed)
    providers = Providers(tcos=parties, ecos=parties, reader=parties)
    migration = MigrationEngine(
        engine,
        settings,
        strategy,
        providers,
        FixedClock(parameters.start),
        daily_capacity=daily_capacity,
        chunk_size=chunk_size,
        before_chunk=before_chunk,
    )
    sync_fleet(engine, parties, settings.eligibility.policy())
    return Simulation(parties, migration)


def remaining_days(engine: Engine, first: date, last: date) -> list[date]:
    """Return the days from ``first`` to ``last`` that the run has not completed."""
    if last < first:
        raise InputError(f"the run ends on {last} before it starts on {first}")
    with engine.connect() as connection:
        done = completed_days(connection)
    return [day for day in days_between(first, last) if day not in done]


def run_days(
    simulation: Simulation,
    days: list[date],
    on_day: Callable[[DaySummary], None] | None = None,
) -> list[DaySummary]:
    """Run the given days in order; call ``on_day`` after each."""
    summaries: list[DaySummary] = []
    for day in days:
        summary = simulation.engine.run_day(day)
        summaries.append(summary)
        if on_day is not None:
            on_day(summary)
    return summaries
