"""Queries behind the reports: streamed device rows and small aggregates.

Queries that can return one row per device stream with ``yield_per`` (a server-side cursor on
PostgreSQL), so a report's memory does not grow with the number of devices. Rules stay in
``domain``: a filter here only narrows the candidate rows, and the caller decides with the rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ecos_migration.domain.compliance import SUPPLIER_ACTIONABLE_REASONS
from ecos_migration.domain.device import Credential, MigrationState
from ecos_migration.domain.models import ModelState
from ecos_migration.store.eligibility import facts_select, stale_condition
from ecos_migration.store.schema import (
    appeal,
    attempt,
    device,
    device_event,
    device_model,
    run_day,
)

STREAM_BATCH = 5000


def supplier_ids(connection: Connection) -> list[str]:
    """Return every supplier id that has at least one device, sorted."""
    rows = connection.execute(
        select(device.c.supplier_id).where(device.c.supplier_id.is_not(None)).distinct()
    )
    return sorted(row[0] for row in rows)


def latest_appeal_status(connection: Connection) -> dict[int, str]:
    """Return the status of the most recent appeal of each Device Model that has one."""
    rows = connection.execute(
        select(appeal.c.model_id, appeal.c.status).order_by(
            appeal.c.model_id, appeal.c.recorded_on, appeal.c.id
        )
    )
    latest: dict[int, str] = {}
    for model_id, status in rows:
        latest[model_id] = status
    return latest


def _failed_attempt_summary() -> Any:
    """Aggregate the attempts of devices that are Failed Migrations, one row per device."""
    failed_ids = select(device.c.id).where(
        device.c.migration_state == MigrationState.AWAITING_REMEDIATION.value
    )
    return (
        select(
            attempt.c.device_id,
            func.count().label("attempts"),
            func.min(attempt.c.started_on).label("first_attempt_on"),
            func.max(func.coalesce(attempt.c.finished_on, attempt.c.started_on)).label(
                "last_attempt_on"
            ),
            func.max(attempt.c.number).label("last_number"),
        )
        .where(attempt.c.device_id.in_(failed_ids))
        .group_by(attempt.c.device_id)
        .subquery("attempt_summary")
    )


def _supplier_report_filter(on: date) -> ColumnElement[bool]:
    # Every term reads the device row alone, so SQLite rejects a row before any join.
    non_migratable = select(device_model.c.id).where(
        device_model.c.state == ModelState.NON_MIGRATABLE.value
    )
    return and_(
        device.c.supplier_id.is_not(None),
        or_(
            device.c.migration_state == MigrationState.AWAITING_REMEDIATION.value,
            device.c.model_id.in_(non_migratable),
            device.c.reason.in_([reason.value for reason in SUPPLIER_ACTIONABLE_REASONS]),
            stale_condition(on),
        ),
    )


def iter_supplier_report_devices(connection: Connection, on: date) -> Iterator[RowMapping]:
    """Stream the devices that may appear in supplier reports, ordered by supplier then device.

    A row is a candidate when the device is a Failed Migration, its model is Non-Migratable,
    its cached reason is one a supplier can fix, or its cached result may not hold on ``on``
    (the caller evaluates those again). Devices with no supplier are left out.
    """
    summary = _failed_attempt_summary()
    last = attempt.alias("last_attempt")
    query = (
        facts_select()
        .add_columns(
            device.c.supplier_id,
            device.c.model_id,
            device.c.reason,
            stale_condition(on).label("stale"),
            device_model.c.manufacturer,
            device_model.c.model,
            device_model.c.firmware_version,
            device_model.c.state.label("model_state"),
            device_model.c.state_reason.label("model_state_reason"),
            device_model.c.non_migratable_on,
            summary.c.attempts,
            summary.c.first_attempt_on,
            summary.c.last_attempt_on,
            last.c.step.label("last_step"),
            last.c.error_code.label("last_error_code"),
        )
        .outerjoin(device_model, device_model.c.id == device.c.model_id)
        .outerjoin(summary, summary.c.device_id == device.c.id)
        .outerjoin(
            last, and_(last.c.device_id == device.c.id, last.c.number == summary.c.last_number)
        )
        .where(_supplier_report_filter(on))
        # Ordering by an expression rather than the indexed column keeps SQLite from walking
        # the supplier index over every device: a scan and a sort of the candidates is faster.
        .order_by(device.c.supplier_id.concat(""), device.c.id)
    )
    result = connection.execution_options(yield_per=STREAM_BATCH).execute(query)
    for row in result:
        yield row._mapping


def migrated_per_day(connection: Connection) -> dict[date, int]:
    """Return how many devices migrated on each day, from MIGRATED events."""
    rows = connection.execute(
        select(device_event.c.occurred_on, func.count())
        .where(device_event.c.kind == "MIGRATED")
        .group_by(device_event.c.occurred_on)
        .order_by(device_event.c.occurred_on)
    )
    return {day: count for day, count in rows}


def latest_activity_day(connection: Connection) -> date | None:
    """Return the last recorded run day, else the last day a device migrated, else ``None``."""
    last_run = connection.execute(select(func.max(run_day.c.day))).scalar()
    if last_run is not None:
        return _as_date(last_run)
    last_migrated = connection.execute(
        select(func.max(device_event.c.occurred_on)).where(device_event.c.kind == "MIGRATED")
    ).scalar()
    return _as_date(last_migrated) if last_migrated is not None else None


def _as_date(value: Any) -> date:
    # SQLite returns MAX() of a Date column as text, because the aggregate loses the type.
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def devices_by_type_and_state(connection: Connection) -> list[tuple[str, str, int]]:
    """Return (device type, migration state, devices) for every combination present."""
    rows = connection.execute(
        select(device.c.device_type, device.c.migration_state, func.count())
        .group_by(device.c.device_type, device.c.migration_state)
        .order_by(device.c.device_type, device.c.migration_state)
    )
    return [(device_type, state, count) for device_type, state, count in rows]


def models_by_state(connection: Connection) -> dict[str, int]:
    """Return the number of Device Models in each state."""
    rows = connection.execute(
        select(device_model.c.state, func.count()).group_by(device_model.c.state)
    )
    return {state: count for state, count in rows}


def failures_by_error_code(connection: Connection) -> list[tuple[str, int]]:
    """Return failed attempts per error code, largest first, ties by code."""
    count = func.count().label("failures")
    code = func.coalesce(attempt.c.error_code, "NO_ERROR_CODE").label("code")
    rows = connection.execute(
        select(code, count)
        .where(attempt.c.status == "FAILED")
        .group_by(code)
        .order_by(count.desc(), code)
    )
    return [(error_code, failures) for error_code, failures in rows]


@dataclass(frozen=True, slots=True)
class NonMigratableModel:
    """A Non-Migratable Device Model with its determination and latest appeal status."""

    device_type: str
    manufacturer: str
    model: str
    firmware_version: str
    non_migratable_on: date | None
    reason: str | None
    appeal_status: str | None


def non_migratable_models(connection: Connection) -> list[NonMigratableModel]:
    """Return every Non-Migratable Device Model, ordered by its key."""
    appeals = latest_appeal_status(connection)
    rows = connection.execute(
        select(
            device_model.c.id,
            device_model.c.device_type,
            device_model.c.manufacturer,
            device_model.c.model,
            device_model.c.firmware_version,
            device_model.c.non_migratable_on,
            device_model.c.state_reason,
        )
        .where(device_model.c.state == ModelState.NON_MIGRATABLE.value)
        .order_by(
            device_model.c.device_type,
            device_model.c.manufacturer,
            device_model.c.model,
            device_model.c.firmware_version,
        )
    )
    return [
        NonMigratableModel(
            device_type=row.device_type,
            manufacturer=row.manufacturer,
            model=row.model,
            firmware_version=row.firmware_version,
            non_migratable_on=row.non_migratable_on,
            reason=row.state_reason,
            appeal_status=appeals.get(row.id),
        )
        for row in rows
    ]


def iter_tcos_devices(connection: Connection) -> Iterator[RowMapping]:
    """Stream every device holding TCoS with the facts the deadline rules need."""
    query = select(
        device.c.id,
        device.c.supplier_id,
        device.c.chf_id,
        device.c.device_type,
        device.c.generation,
        device.c.smi_status,
        device.c.credential,
        device.c.first_seen_on,
        device.c.commissioned_on,
    ).where(device.c.credential == Credential.TCOS.value)
    for row in connection.execution_options(yield_per=STREAM_BATCH).execute(query):
        yield row._mapping


def supplier_device_counts(connection: Connection) -> dict[str, dict[str, int]]:
    """Return, per supplier, the number of its devices in each migration state."""
    rows = connection.execute(
        select(device.c.supplier_id, device.c.migration_state, func.count())
        .where(device.c.supplier_id.is_not(None))
        .group_by(device.c.supplier_id, device.c.migration_state)
    )
    counts: dict[str, dict[str, int]] = {}
    for supplier_id, state, count in rows:
        counts.setdefault(supplier_id, {})[state] = count
    return counts
