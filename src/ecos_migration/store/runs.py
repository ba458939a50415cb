"""The state of a migration run: its parameters, the days it completed and status counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from ecos_migration.domain.device import MigrationState
from ecos_migration.domain.eligibility import Reason
from ecos_migration.domain.models import ModelState
from ecos_migration.store.schema import device, device_model, run_day
from ecos_migration.store.settings import get_setting, set_setting

_SEED = "run.seed"
_START = "run.start"
_SCENARIO = "run.scenario"
_CURRENT_DAY = "run.current_day"


@dataclass(frozen=True, slots=True)
class RunParameters:
    """Parameters a run needs to resume exactly as it started: seed, first day and scenario."""

    seed: int
    start: date
    scenario_text: str


def stored_run(connection: Connection) -> RunParameters | None:
    """Return the parameters of the run stored in the database, if one was started."""
    seed = get_setting(connection, _SEED)
    start = get_setting(connection, _START)
    if seed is None or start is None:
        return None
    return RunParameters(
        seed=int(seed),
        start=date.fromisoformat(start),
        scenario_text=get_setting(connection, _SCENARIO) or "",
    )


def store_run(connection: Connection, parameters: RunParameters) -> None:
    """Store the parameters of a new run."""
    set_setting(connection, _SEED, str(parameters.seed))
    set_setting(connection, _START, parameters.start.isoformat())
    set_setting(connection, _SCENARIO, parameters.scenario_text)


def set_current_day(connection: Connection, day: date) -> None:
    """Record the day the run is working on."""
    set_setting(connection, _CURRENT_DAY, day.isoformat())


def current_day(connection: Connection) -> date | None:
    """Return the day the run is working on, or last worked on."""
    value = get_setting(connection, _CURRENT_DAY)
    return date.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class DaySummary:
    """Counts of one completed simulated day."""

    day: date
    started: int
    migrated: int
    failed: int
    retried: int
    in_scope_remaining: int
    eligible: int

    def line(self) -> str:
        """Return the day as one line of the run's output."""
        return (
            f"{self.day.isoformat()}: started {self.started}, migrated {self.migrated}, "
            f"failed {self.failed}, retried {self.retried}, "
            f"eligible {self.eligible}, remaining {self.in_scope_remaining}"
        )


def record_day(connection: Connection, summary: DaySummary, completed_at: datetime) -> None:
    """Record a completed day."""
    connection.execute(
        insert(run_day).values(
            day=summary.day,
            started=summary.started,
            migrated=summary.migrated,
            failed=summary.failed,
            retried=summary.retried,
            in_scope_remaining=summary.in_scope_remaining,
            eligible=summary.eligible,
            completed_at=completed_at,
        )
    )


def completed_days(connection: Connection) -> set[date]:
    """Return every day the run completed."""
    return set(connection.execute(select(run_day.c.day)).scalars())


def day_summaries(connection: Connection) -> Sequence[DaySummary]:
    """Return every completed day, oldest first."""
    return [
        DaySummary(
            r.day, r.started, r.migrated, r.failed, r.retried, r.in_scope_remaining, r.eligible
        )
        for r in connection.execute(select(run_day).order_by(run_day.c.day))
    ]


def migration_state_counts(connection: Connection) -> dict[str, int]:
    """Count devices by migration state."""
    counts = dict.fromkeys((s.value for s in MigrationState), 0)
    for state, count in connection.execute(
        select(device.c.migration_state, func.count()).group_by(device.c.migration_state)
    ):
        counts[state] = int(count)
    return counts


def model_state_counts(connection: Connection) -> dict[str, int]:
    """Count Device Models by state, every state included."""
    counts = dict.fromkeys((s.value for s in ModelState), 0)
    for state, count in connection.execute(
        select(device_model.c.state, func.count()).group_by(device_model.c.state)
    ):
        counts[state] = int(count)
    return counts


_OUT_OF_SCOPE = ("OUT_OF_SCOPE_SMETS1", "OUT_OF_SCOPE_DEVICE_TYPE", "ALREADY_ECOS")


def eligible_and_remaining(connection: Connection) -> tuple[int, int]:
    """Return (devices with no device-level reason in an active or new model, in-scope devices
    not yet on ECoS) from the cached eligibility."""
    active = {
        ModelState.NEW.value,
        ModelState.PROVING.value,
        ModelState.AWAITING_EVIDENCE.value,
        ModelState.BULK.value,
    }
    # One count per model of the devices with no reason, read from the
    # (model_id, reason, selection_key) index alone: naming every model lets SQLite use it
    # without a read of the device rows. The same counts give both figures.
    states = dict(connection.execute(select(device_model.c.id, device_model.c.state)).all())
    without_reason = connection.execute(
        select(device.c.model_id, func.count())
        .where(device.c.model_id.in_(list(states)), device.c.reason.is_(None))
        .group_by(device.c.model_id)
    ).all()
    without_model = connection.execute(
        select(func.count()).where(device.c.model_id.is_(None), device.c.reason.is_(None))
    ).scalar_one()
    eligible = sum(count for model_id, count in without_reason if states.get(model_id) in active)
    # NOTE: on PostgreSQL the counts above visit the table for every entry whose page changed
    # since the last vacuum, measured at about a second a day early in a 1,000,000-device run.

    # Few devices have an in-scope reason, and listing the reasons lets the
    # (reason, selection_key) index count them.
    in_scope_reasons = [reason.value for reason in Reason if reason.value not in _OUT_OF_SCOPE]
    in_scope_with_reason = connection.execute(
        select(func.count()).where(device.c.reason.in_(in_scope_reasons))
    ).scalar_one()
    remaining = sum(count for _, count in without_reason) + without_model + in_scope_with_reason
    return int(eligible), int(remaining)


def as_json(summary: DaySummary) -> dict[str, Any]:
    """Return a day summary as JSON-ready values."""
    return {
        "day": summary.day.isoformat(),
        "started": summary.started,
        "migrated": summary.migrated,
        "failed": summary.failed,
        "retried": summary.retried,
        "in_scope_remaining": summary.in_scope_remaining,
        "eligible": summary.eligible,
    }
