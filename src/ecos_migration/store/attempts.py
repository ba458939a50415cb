"""Migration attempts: starting them, recording each step's result, and what the engine selects.

An attempt row records the step reached so far and its status. The engine commits each
step's results for a chunk of attempts in one transaction, so after a crash every attempt
whose status is IN_FLIGHT or UNKNOWN is replayed from its recorded step with the same
attempt id.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)

from ecos_migration.domain.device import MigrationState
from ecos_migration.domain.models import ModelState
from ecos_migration.store.bulk import RowStatement
from ecos_migration.store.schema import attempt, device, device_event, device_model
from ecos_migration.store.settings import get_setting, set_setting

BATCH_SIZE = 5000

_later = attempt.alias("later")


class AttemptStatus(enum.StrEnum):
    """Status of an attempt."""

    IN_FLIGHT = "IN_FLIGHT"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"


def attempt_id(device_id: str, number: int) -> str:
    """Return the stable id of a device's attempt number ``number``."""
    return f"{device_id}-{number}"


@dataclass(slots=True)
class Work:
    """One attempt the engine is driving through the steps, with its outcome so far."""

    attempt_id: str
    device_id: str
    model_id: int
    model: str
    number: int
    proving_step: int | None
    step: str
    status: str = AttemptStatus.IN_FLIGHT.value
    # Started by the chunk being driven: its row is inserted when the chunk is written.
    new: bool = False
    started_on: date | None = None
    error_code: str | None = None
    finished_on: date | None = None
    retry_on: date | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A device selected to start an attempt today."""

    device_id: str
    model_id: int
    selection_key: int
    number: int
    proving_step: int | None
    credential: str


def _model_text() -> object:
    return (
        device_model.c.device_type
        + "/"
        + device_model.c.manufacturer
        + "/"
        + device_model.c.model
        + "/"
        + device_model.c.firmware_version
    )


def _id_chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield list(ids[start : start + BATCH_SIZE])


def set_migration_state(
    connection: Connection, device_ids: Sequence[str], state: MigrationState
) -> None:
    """Set the migration state of the devices."""
    # One UPDATE per chunk with an IN list: every row gets the same value, so this avoids
    # the per-row cost of executemany.
    for chunk in _id_chunks(device_ids):
        connection.execute(
            update(device).where(device.c.id.in_(chunk)).values(migration_state=state.value)
        )


_INSERT_ATTEMPT = RowStatement(
    attempt,
    (
        "id",
        "device_id",
        "model_id",
        "number",
        "proving_step",
        "started_on",
        "step",
        "status",
        "error_code",
        "finished_on",
        "retry_on",
    ),
)
_UPDATE_ATTEMPT = RowStatement(
    attempt, ("step", "status", "error_code", "finished_on", "retry_on"), key=("id",)
)


def write_attempts(connection: Connection, works: Sequence[Work]) -> None:
    """Insert the rows of attempts started by ``works`` and update the others to the step,
    status and outcome each has reached."""
    _INSERT_ATTEMPT.execute(
        connection,
        [
            (
                w.attempt_id,
                w.device_id,
                w.model_id,
                w.number,
                w.proving_step,
                w.started_on,
                w.step,
                w.status,
                w.error_code,
                w.finished_on,
                w.retry_on,
            )
            for w in works
            if w.new
        ],
    )
    _UPDATE_ATTEMPT.execute(
        connection,
        [
            (w.step, w.status, w.error_code, w.finished_on, w.retry_on, w.attempt_id)
            for w in works
            if not w.new
        ],
    )


def unfinished_attempts(connection: Connection) -> list[Work]:
    """Return every attempt without an outcome (IN_FLIGHT or UNKNOWN), to be driven on."""
    rows = connection.execute(
        select(
            attempt.c.id,
            attempt.c.device_id,
            attempt.c.model_id,
            _model_text().label("model"),  # type: ignore[attr-defined]
            attempt.c.number,
            attempt.c.proving_step,
            attempt.c.step,
            attempt.c.status,
        )
        .join(device_model, device_model.c.id == attempt.c.model_id)
        .where(attempt.c.status.in_([AttemptStatus.IN_FLIGHT.value, AttemptStatus.UNKNOWN.value]))
        .order_by(attempt.c.id)
    )
    return [
        Work(r.id, r.device_id, r.model_id, r.model, r.number, r.proving_step, r.step, r.status)
        for r in rows
    ]


def started_on(connection: Connection, on: date) -> int:
    """Return how many attempts started on ``on``.

    Counted from the MIGRATION_STARTED events, whose (kind, occurred_on) index makes this a
    range scan of one day.
    """
    return int(
        connection.execute(
            select(func.count()).where(
                device_event.c.kind == "MIGRATION_STARTED", device_event.c.occurred_on == on
            )
        ).scalar_one()
    )


ACTIVE_STATES = (ModelState.PROVING.value, ModelState.BULK.value)


def due_retries(connection: Connection, on: date, limit: int) -> list[Candidate]:
    """Return devices whose last attempt failed and may be retried on ``on``, in selection order.

    Only devices of models in PROVING or BULK are returned: a suspended model starts nothing.
    The devices between attempts are read first, through the partial index of devices in
    progress: they are few, while the failed attempts of a whole run are many.
    """
    if limit <= 0:
        return []
    waiting = connection.execute(
        select(device.c.id, device.c.model_id, device.c.selection_key, device.c.credential)
        .join(device_model, device_model.c.id == device.c.model_id)
        .where(
            # A literal, not a parameter, so that SQLite matches the partial index.
            device.c.migration_state == literal_column(f"'{MigrationState.IN_PROGRESS.value}'"),
            device_model.c.state.in_(ACTIVE_STATES),
        )
        .order_by(device.c.selection_key)
    ).all()
    found: list[Candidate] = []
    for start in range(0, len(waiting), BATCH_SIZE):
        chunk = waiting[start : start + BATCH_SIZE]
        latest = _latest_attempts(connection, [row.id for row in chunk])
        for row in chunk:
            last = latest.get(row.id)
            if last is None or last.status != AttemptStatus.FAILED.value:
                continue
            if last.retry_on is None or last.retry_on > on:
                continue
            # A device moved to another model by a firmware upgrade is no proving device
            # of it.
            found.append(
                Candidate(
                    row.id,
                    row.model_id,
                    row.selection_key,
                    last.number + 1,
                    last.proving_step if last.model_id == row.model_id else None,
                    row.credential,
                )
            )
            if len(found) == limit:
                return found
    return found


def _latest_attempts(connection: Connection, device_ids: Sequence[str]) -> dict[str, Any]:
    """Return the latest attempt row of each device that has one."""
    newest = (
        select(func.max(_later.c.number))
        .where(_later.c.device_id == attempt.c.device_id)
        .scalar_subquery()
    )
    rows = connection.execute(
        select(
            attempt.c.device_id,
            attempt.c.model_id,
            attempt.c.number,
            attempt.c.proving_step,
            attempt.c.status,
            attempt.c.retry_on,
        ).where(attempt.c.device_id.in_(list(device_ids)), attempt.c.number == newest)
    )
    return {row.device_id: row for row in rows}


def eligible_devices(
    connection: Connection, model_ids: Sequence[int], limit: int
) -> list[Candidate]:
    """Return up to ``limit`` eligible devices (no device-level reason) of the models, in
    selection order, as first attempts."""
    if limit <= 0 or not model_ids:
        return []
    rows = connection.execute(
        select(device.c.id, device.c.model_id, device.c.selection_key, device.c.credential)
        .where(device.c.reason.is_(None), device.c.model_id.in_(list(model_ids)))
        .order_by(device.c.selection_key)
        .limit(limit)
    ).all()
    # A device remediated after a Failed Migration has attempts already; number on from them.
    numbers = last_attempt_numbers(connection, [r.id for r in rows])
    return [
        Candidate(r.id, r.model_id, r.selection_key, numbers.get(r.id, 0) + 1, None, r.credential)
        for r in rows
    ]


def last_attempt_numbers(connection: Connection, device_ids: Sequence[str]) -> dict[str, int]:
    """Return the number of each device's latest attempt, for devices that have one."""
    found: dict[str, int] = {}
    for start in range(0, len(device_ids), BATCH_SIZE):
        chunk = list(device_ids[start : start + BATCH_SIZE])
        for device_id, number in connection.execute(
            select(attempt.c.device_id, func.max(attempt.c.number))
            .where(attempt.c.device_id.in_(chunk))
            .group_by(attempt.c.device_id)
        ):
            found[device_id] = int(number)
    return found


_MODEL_EVENTS_SEEN = "run.model_changes_seen_to_event"


def remediated_by_model_change(connection: Connection) -> list[tuple[str, MigrationState]]:
    """Return devices whose Device Model changed since their last attempt failed, with the
    migration state each is in: AWAITING_REMEDIATION, or IN_PROGRESS with a retry pending.

    A firmware upgrade is the usual remediation: the device is then of another model and is
    selected again, under that model's state, like any other device. A device waiting for a
    retry is treated the same way, since its retry was decided under the old model's rules
    and the new model may not be started yet. Only devices with a Device Model change
    recorded since the previous call are looked at, found through the events' primary key,
    so a day without inventory changes costs one short range scan.

    NOTE: a device whose model changes while an attempt of its old model is still unfinished
    (only after a crash) is not looked at again once that attempt fails.
    """
    seen = int(get_setting(connection, _MODEL_EVENTS_SEEN) or 0)
    newest = connection.execute(select(func.max(device_event.c.id))).scalar() or 0
    if newest <= seen:
        return []
    changed = list(
        connection.execute(
            select(device_event.c.device_id)
            .where(
                device_event.c.id > seen,
                device_event.c.kind == "FACT_CHANGED",
                device_event.c.field == "model_id",
            )
            .distinct()
        ).scalars()
    )
    set_setting(connection, _MODEL_EVENTS_SEEN, str(newest))
    found: list[tuple[str, MigrationState]] = []
    for chunk in _id_chunks(changed):
        rows = connection.execute(
            select(device.c.id, device.c.migration_state)
            .join(attempt, attempt.c.device_id == device.c.id)
            .where(
                device.c.id.in_(chunk),
                or_(
                    device.c.migration_state == MigrationState.AWAITING_REMEDIATION.value,
                    and_(
                        device.c.migration_state == MigrationState.IN_PROGRESS.value,
                        attempt.c.status == AttemptStatus.FAILED.value,
                    ),
                ),
                attempt.c.model_id != device.c.model_id,
                ~exists().where(
                    and_(
                        _later.c.device_id == attempt.c.device_id,
                        _later.c.number > attempt.c.number,
                    )
                ),
            )
        )
        found.extend((device_id, MigrationState(state)) for device_id, state in rows)
    return found


def models_with_outcomes_on(connection: Connection, on: date, model_ids: Iterable[int]) -> set[int]:
    """Return which of the models have an attempt that finished on ``on``."""
    ids = list(model_ids)
    if not ids:
        return set()
    return set(
        connection.execute(
            select(attempt.c.model_id)
            .where(attempt.c.model_id.in_(ids), attempt.c.finished_on == on)
            .distinct()
        ).scalars()
    )


def has_eligible_device(connection: Connection, model_id: int) -> bool:
    """Return whether the model has a device with no device-level reason."""
    return (
        connection.execute(
            select(device.c.id)
            .where(device.c.model_id == model_id, device.c.reason.is_(None))
            .limit(1)
        ).first()
        is not None
    )


def models_with_eligible_devices(connection: Connection, state: ModelState) -> list[int]:
    """Return the ids of models in ``state`` that have at least one eligible device."""
    return list(
        connection.execute(
            select(device_model.c.id).where(
                device_model.c.state == state.value,
                exists().where(
                    and_(device.c.model_id == device_model.c.id, device.c.reason.is_(None))
                ),
            )
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class ProvingTally:
    """Proving devices of one model: in all, and in one step by migration state."""

    started_total: int
    started_in_step: int
    migrated: int
    failed: int


def proving_tally(connection: Connection, model_id: int, step: int) -> ProvingTally:
    """Count the model's proving devices, and those of ``step`` by their migration state."""
    total = connection.execute(
        select(func.count(func.distinct(attempt.c.device_id))).where(
            attempt.c.model_id == model_id, attempt.c.proving_step.is_not(None)
        )
    ).scalar_one()
    by_state: dict[str, int] = dict(
        connection.execute(
            select(device.c.migration_state, func.count(func.distinct(attempt.c.device_id)))
            .join(device, device.c.id == attempt.c.device_id)
            .where(attempt.c.model_id == model_id, attempt.c.proving_step == step)
            .group_by(device.c.migration_state)
        ).all()
    )
    return ProvingTally(
        started_total=int(total),
        started_in_step=int(sum(by_state.values())),
        migrated=int(by_state.get(MigrationState.MIGRATED.value, 0)),
        failed=int(by_state.get(MigrationState.AWAITING_REMEDIATION.value, 0)),
    )


def proving_devices_started(connection: Connection, model_id: int) -> int:
    """Return how many distinct devices the model has started as proving devices."""
    return int(
        connection.execute(
            select(func.count(func.distinct(attempt.c.device_id))).where(
                attempt.c.model_id == model_id, attempt.c.proving_step.is_not(None)
            )
        ).scalar_one()
    )


def recent_outcomes(connection: Connection, model_id: int, window: int) -> list[bool]:
    """Return the outcomes of the model's newest ``window`` finished attempts, newest first."""
    rows = connection.execute(
        select(attempt.c.status)
        .where(
            attempt.c.model_id == model_id,
            attempt.c.status.in_([AttemptStatus.SUCCEEDED.value, AttemptStatus.FAILED.value]),
        )
        .order_by(attempt.c.finished_on.desc(), attempt.c.id.desc())
        .limit(window)
    ).scalars()
    return [status == AttemptStatus.SUCCEEDED.value for status in rows]


def day_counts(connection: Connection, on: date) -> dict[str, int]:
    """Count the attempts started, devices migrated, Failed Migrations and retries on ``on``.

    Counted from the day's device events through their (kind, occurred_on) index.
    """
    counts: dict[str, int] = dict(
        connection.execute(
            select(device_event.c.kind, func.count())
            .where(
                device_event.c.kind.in_(["MIGRATION_STARTED", "MIGRATED", "FAILED_MIGRATION"]),
                device_event.c.occurred_on == on,
            )
            .group_by(device_event.c.kind)
        ).all()
    )
    retried = connection.execute(
        select(func.count()).where(
            device_event.c.kind == "MIGRATION_STARTED",
            device_event.c.occurred_on == on,
            device_event.c.attempt_id.not_like("%-1"),
        )
    ).scalar_one()
    return {
        "started": int(counts.get("MIGRATION_STARTED", 0)),
        "migrated": int(counts.get("MIGRATED", 0)),
        "failed": int(counts.get("FAILED_MIGRATION", 0)),
        "retried": int(retried),
    }


def in_scope_credentials(
    connection: Connection, in_scope_types: Iterable[str]
) -> Iterator[list[tuple[str, str]]]:
    """Yield (device id, recorded credential) of SMETS2 devices of in-scope types, in batches.

    One query streams every row. Paging by id with the type condition made SQLite read every
    device of those types and sort them again for each page, which grew with the square of
    the fleet.
    """
    rows = connection.execution_options(yield_per=BATCH_SIZE).execute(
        select(device.c.id, device.c.credential).where(
            device.c.generation == "SMETS2", device.c.device_type.in_(list(in_scope_types))
        )
    )
    for partition in rows.partitions():
        yield [(r.id, r.credential) for r in partition]


@dataclass(frozen=True, slots=True)
class ModelProgress:
    """Per Device Model: devices started as proving devices, migrated and Failed Migrations."""

    proving_devices: int = 0
    migrated: int = 0
    failed: int = 0


def model_progress(connection: Connection) -> dict[int, ModelProgress]:
    """Return the progress of every model that has devices or proving attempts, by model id."""
    proving: dict[int, int] = dict(
        connection.execute(
            select(attempt.c.model_id, func.count(func.distinct(attempt.c.device_id)))
            .where(attempt.c.proving_step.is_not(None))
            .group_by(attempt.c.model_id)
        ).all()
    )
    by_state: dict[int, dict[str, int]] = {}
    for model_id, state, count in connection.execute(
        select(device.c.model_id, device.c.migration_state, func.count())
        .where(
            device.c.migration_state.in_(
                [MigrationState.MIGRATED.value, MigrationState.AWAITING_REMEDIATION.value]
            )
        )
        .group_by(device.c.model_id, device.c.migration_state)
    ):
        by_state.setdefault(model_id, {})[state] = int(count)
    return {
        model_id: ModelProgress(
            proving_devices=int(proving.get(model_id, 0)),
            migrated=by_state.get(model_id, {}).get(MigrationState.MIGRATED.value, 0),
            failed=by_state.get(model_id, {}).get(MigrationState.AWAITING_REMEDIATION.value, 0),
        )
        for model_id in {*proving, *by_state}
    }
