"""Storing the device-level eligibility result per device, and counting it with model states.

The rule itself lives in ``domain.eligibility``; this module only loads facts, calls it,
caches the result in ``device.reason`` / ``reason_until`` / ``evaluated_on`` and groups it.
A cached result is valid on a date D when ``evaluated_on <= D`` and ``D < reason_until``
(or ``reason_until`` is NULL); rows outside that window are evaluated again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import (
    DeviceEligibility,
    DeviceFacts,
    EligibilityPolicy,
    Reason,
    evaluate_device,
    is_in_scope,
    primary_reason,
)
from ecos_migration.domain.models import ModelState, model_condition
from ecos_migration.store.bulk import RowStatement
from ecos_migration.store.schema import device, device_model

BATCH_SIZE = 5000

_hub = device.alias("hub")

FACT_COLUMNS = (
    device.c.id,
    device.c.generation,
    device.c.device_type,
    device.c.smi_status,
    device.c.credential,
    device.c.comms_status,
    device.c.migration_state,
    device.c.commissioned_on,
    device.c.last_change_of_supplier_on,
    device.c.cos_request_pending_until,
    _hub.c.smi_status.label("hub_status"),
)


def facts_select() -> Any:
    """Return a SELECT of every device's facts joined with its hub's status."""
    return select(*FACT_COLUMNS).select_from(device.outerjoin(_hub, _hub.c.id == device.c.chf_id))


def facts_from_row(row: Mapping[Any, Any]) -> DeviceFacts:
    """Build ``DeviceFacts`` from a row of ``facts_select`` (or any mapping with those keys)."""
    hub_status = row.get("hub_status")
    return DeviceFacts(
        generation=Generation(row["generation"]),
        device_type=DeviceType(row["device_type"]),
        smi_status=SmiStatus(row["smi_status"]),
        credential=Credential(row["credential"]),
        comms_status=CommsStatus(row["comms_status"]),
        migration_state=MigrationState(row["migration_state"]),
        hub_status=SmiStatus(hub_status) if hub_status else None,
        commissioned_on=row["commissioned_on"],
        last_change_of_supplier_on=row["last_change_of_supplier_on"],
        cos_request_pending_until=row["cos_request_pending_until"],
    )


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_WRITE_RESULT = RowStatement(device, ("reason", "reason_until", "evaluated_on"), key=("id",))


def _write_results(
    connection: Connection, results: list[tuple[str, DeviceEligibility]], on: date
) -> None:
    _WRITE_RESULT.execute(
        connection,
        [
            (result.reason.value if result.reason else None, result.until, on, device_id)
            for device_id, result in results
        ],
    )


def _evaluate_rows(
    rows: Iterable[Any], on: date, policy: EligibilityPolicy
) -> list[tuple[str, DeviceEligibility]]:
    return [(row.id, evaluate_device(facts_from_row(row._mapping), on, policy)) for row in rows]


def refresh_devices(
    connection: Connection, device_ids: Iterable[str], on: date, policy: EligibilityPolicy
) -> int:
    """Evaluate the named devices on ``on`` and store the results; return how many."""
    ids = list(dict.fromkeys(device_ids))
    for chunk in _chunks(ids, BATCH_SIZE):
        rows = connection.execute(facts_select().where(device.c.id.in_(chunk)))
        _write_results(connection, _evaluate_rows(rows, on, policy), on)
    return len(ids)


def device_facts(connection: Connection, device_ids: Iterable[str]) -> dict[str, DeviceFacts]:
    """Return the facts of each named device that is in the store, by device id."""
    found: dict[str, DeviceFacts] = {}
    for chunk in _chunks(list(dict.fromkeys(device_ids)), BATCH_SIZE):
        for row in connection.execute(facts_select().where(device.c.id.in_(chunk))):
            found[row.id] = facts_from_row(row._mapping)
    return found


class DeviceOutcome(NamedTuple):
    """A device's migration state and credential after a step, with its eligibility then."""

    device_id: str
    migration_state: MigrationState
    credential: Credential
    eligibility: DeviceEligibility


_WRITE_OUTCOME = RowStatement(
    device,
    ("migration_state", "credential", "reason", "reason_until", "evaluated_on"),
    key=("id",),
)


def write_device_outcomes(
    connection: Connection, outcomes: Iterable[DeviceOutcome], on: date
) -> int:
    """Store each device's migration state, credential and eligibility evaluated on ``on``,
    in one statement per device; return how many were written."""
    return _WRITE_OUTCOME.execute(
        connection,
        [
            (
                o.migration_state.value,
                o.credential.value,
                o.eligibility.reason.value if o.eligibility.reason else None,
                o.eligibility.until,
                on,
                o.device_id,
            )
            for o in outcomes
        ],
    )


def refresh_gpfs_of_hubs(
    connection: Connection, hub_ids: Iterable[str], on: date, policy: EligibilityPolicy
) -> int:
    """Evaluate again the GPFs whose communications hub is one of ``hub_ids``."""
    ids: list[str] = []
    for chunk in _chunks(list(dict.fromkeys(hub_ids)), BATCH_SIZE):
        ids.extend(
            connection.execute(select(device.c.id).where(device.c.chf_id.in_(chunk))).scalars()
        )
    return refresh_devices(connection, ids, on, policy)


def stale_condition(on: date) -> ColumnElement[bool]:
    """Return the condition of rows whose cached result may not hold on ``on``."""
    return or_(
        device.c.evaluated_on.is_(None),
        device.c.evaluated_on > on,
        and_(device.c.reason_until.is_not(None), device.c.reason_until <= on),
    )


def _stale_conditions(on: date) -> tuple[ColumnElement[bool], ...]:
    """Return the parts of ``stale_condition``, each served by an index of its own."""
    return (
        and_(device.c.reason_until.is_not(None), device.c.reason_until <= on),
        device.c.evaluated_on.is_(None),
        device.c.evaluated_on > on,
    )


def refresh_stale(connection: Connection, on: date, policy: EligibilityPolicy) -> int:
    """Evaluate again, and store, every device whose cached result may not hold on ``on``.

    The engine calls this once per simulated day before it selects devices, so each part of
    the condition is read through its own index rather than by scanning the device table.
    A stored result always leaves the condition (it is evaluated on ``on`` and any
    ``reason_until`` it gets is after ``on``), so each batch is simply the next matching rows.
    """
    total = 0
    for condition in _stale_conditions(on):
        while True:
            # The ids first, through the condition's own index: with the hub join in the
            # same query PostgreSQL chose to scan the whole table, every day.
            ids = list(
                connection.execute(select(device.c.id).where(condition).limit(BATCH_SIZE)).scalars()
            )
            if not ids:
                break
            total += refresh_devices(connection, ids, on, policy)
            if len(ids) < BATCH_SIZE:
                break
    return total


@dataclass
class TypeCounts:
    """Devices and eligible devices of one group."""

    devices: int = 0
    eligible: int = 0


@dataclass
class EligibilitySummary:
    """Counts of the eligibility of every device on one date."""

    on: date
    devices: int = 0
    in_scope: int = 0
    eligible: int = 0
    ineligible: dict[Reason, int] = field(default_factory=lambda: dict.fromkeys(Reason, 0))
    by_device_type: dict[str, TypeCounts] = field(default_factory=dict)
    by_model_state: dict[str, TypeCounts] = field(default_factory=dict)

    def add(
        self, device_type: str, model_state: str | None, reason: Reason | None, count: int
    ) -> None:
        """Count ``count`` devices of one type and model state with one primary reason."""
        self.devices += count
        if is_in_scope(reason):
            self.in_scope += count
        type_counts = self.by_device_type.setdefault(device_type, TypeCounts())
        type_counts.devices += count
        state_counts = self.by_model_state.setdefault(model_state or "NO_MODEL", TypeCounts())
        state_counts.devices += count
        if reason is None:
            self.eligible += count
            type_counts.eligible += count
            state_counts.eligible += count
        else:
            self.ineligible[reason] += count

    def to_json(self) -> dict[str, Any]:
        """Return the summary in its documented JSON form."""
        return {
            "on": self.on.isoformat(),
            "devices": self.devices,
            "in_scope": self.in_scope,
            "eligible": self.eligible,
            "ineligible": {reason.value: count for reason, count in self.ineligible.items()},
            "by_device_type": {
                name: {"devices": counts.devices, "eligible": counts.eligible}
                for name, counts in sorted(self.by_device_type.items())
            },
            "by_model_state": {
                name: {"devices": counts.devices, "eligible": counts.eligible}
                for name, counts in sorted(self.by_model_state.items())
            },
        }


def _combined(device_reason: str | None, model_state: str | None) -> Reason | None:
    condition = model_condition(ModelState(model_state)) if model_state else None
    reason = Reason(device_reason) if device_reason else None
    if condition is None:
        return reason
    return primary_reason(reason, condition)


def summarise_eligibility(
    connection: Connection, on: date, policy: EligibilityPolicy
) -> EligibilitySummary:
    """Count every device's primary reason on ``on`` without changing the store.

    Rows whose cached result holds on ``on`` are grouped in SQL; the rest are evaluated in
    Python with the same rule. Both halves are combined with the model state by
    ``primary_reason``. Grouping by ``model_id`` and looking the few model states up in
    Python spares the database a join per device row.
    """
    summary = EligibilitySummary(on)
    states: dict[int | None, str | None] = {
        model_id: state
        for model_id, state in connection.execute(select(device_model.c.id, device_model.c.state))
    }
    # One scan groups every row and counts the stale ones, so the second query, which
    # evaluates stale rows again, runs only when there are any.
    stale_flag = case((stale_condition(on), 1), else_=0).label("stale")
    groups = connection.execute(
        select(
            device.c.device_type, device.c.model_id, device.c.reason, stale_flag, func.count()
        ).group_by(device.c.device_type, device.c.model_id, device.c.reason, stale_flag)
    )
    stale_rows = 0
    for device_type, model_id, reason, is_stale, count in groups:
        if is_stale:
            stale_rows += count
            continue
        model_state = states.get(model_id)
        summary.add(device_type, model_state, _combined(reason, model_state), count)
    if stale_rows == 0:
        return summary

    stale_groups: Counter[tuple[str, int | None, str | None]] = Counter()
    stale = connection.execution_options(yield_per=BATCH_SIZE).execute(
        facts_select().add_columns(device.c.model_id).where(stale_condition(on))
    )
    for row in stale:
        result = evaluate_device(facts_from_row(row._mapping), on, policy)
        reason_value = result.reason.value if result.reason else None
        stale_groups[(row.device_type, row.model_id, reason_value)] += 1
    for (device_type, model_id, reason_value), count in stale_groups.items():
        model_state = states.get(model_id)
        summary.add(device_type, model_state, _combined(reason_value, model_state), count)
    return summary
