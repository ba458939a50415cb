"""A fleet as a migration run leaves it, written through the store for the report tests.

Device ids start with the supplier's four-digit index, so a test can tell from an id alone
which supplier a device belongs to. Every supplier gets a different number of devices of each
kind, so a row filed under the wrong supplier changes a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, insert, update

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.models import ModelState
from ecos_migration.store.devices import DeviceRecord, upsert_devices
from ecos_migration.store.eligibility import refresh_devices
from ecos_migration.store.events import DeviceEvent, append_device_events
from ecos_migration.store.models import change_model_state, get_model
from ecos_migration.store.schema import appeal, attempt, device, run_day

REPORT_DAY = date(2024, 3, 1)
COMMISSIONED = date(2023, 1, 10)
POLICY = EligibilityPolicy()

GOOD_ESME = DeviceModelKey(DeviceType.ESME, "AB01", "E100", "0001")
GOOD_GSME = DeviceModelKey(DeviceType.GSME, "CD02", "G200", "0003")
BAD_ESME = DeviceModelKey(DeviceType.ESME, "EF03", "E300", "0007")
BAD_GPF = DeviceModelKey(DeviceType.GPF, "GH04", "P400", "0009")


def at(day: date) -> datetime:
    """Return noon UTC on ``day``, the recorded time of rows written for that day."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def device_id(supplier_index: int, kind: int, number: int) -> str:
    """Return a device id that encodes the supplier, the kind of device and a number."""
    return f"{supplier_index:04X}{kind:02X}{number:010X}"


def supplier_name(index: int) -> str:
    """Return the supplier id of supplier ``index``."""
    return f"SUP{index:03d}"


@dataclass
class SupplierPlan:
    """How many devices of each kind one supplier has."""

    migrated: int
    failed: int
    non_migratable: int
    comms_failure: int
    installed_not_commissioned: int
    decommissioned: int
    eligible: int


@dataclass
class Fleet:
    """What ``build_fleet`` wrote, for tests to compare reports against."""

    plans: dict[str, SupplierPlan] = field(default_factory=dict)
    failed_ids: dict[str, set[str]] = field(default_factory=dict)


def add_devices(connection: Connection, records: list[DeviceRecord], on: date) -> None:
    """Insert devices through the inventory upsert, which evaluates their eligibility."""
    upsert_devices(connection, records, on=on, now=at(on), seed=7, policy=POLICY)


def set_migration_state(
    connection: Connection,
    ids: list[str],
    state: MigrationState,
    credential: Credential,
    on: date,
) -> None:
    """Set the migration state and credential of devices, then evaluate them again."""
    if not ids:
        return
    connection.execute(
        update(device)
        .where(device.c.id.in_(ids))
        .values(migration_state=state.value, credential=credential.value)
    )
    refresh_devices(connection, ids, on, POLICY)


def add_attempt(
    connection: Connection,
    device: str,
    model_id: int,
    number: int,
    *,
    started_on: date,
    status: str,
    step: str,
    error_code: str | None = None,
) -> None:
    """Insert one attempt that finished on the day it started."""
    connection.execute(
        insert(attempt).values(
            id=f"{device}-{number}",
            device_id=device,
            model_id=model_id,
            number=number,
            started_on=started_on,
            step=step,
            status=status,
            error_code=error_code,
            finished_on=started_on,
        )
    )


def make_non_migratable(connection: Connection, key: DeviceModelKey, on: date) -> int:
    """Determine a Device Model Non-Migratable; return its id."""
    model = get_model(connection, key)
    change_model_state(
        connection,
        model,
        ModelState.NON_MIGRATABLE,
        on=on,
        now=at(on),
        kind="NON_MIGRATABLE",
        actor="DCC",
        reason="The device rejects the replacement command with this firmware.",
    )
    return model.id


def add_appeal(connection: Connection, model_id: int, supplier: str, status: str, on: date) -> None:
    """Record an appeal against a Non-Migratable determination."""
    connection.execute(
        insert(appeal).values(
            model_id=model_id, supplier_id=supplier, status=status, recorded_on=on
        )
    )


def add_run_days(connection: Connection, per_day: dict[date, int], remaining: int) -> None:
    """Insert one run day per entry, with ``remaining`` falling by the day's migrations."""
    total = sum(per_day.values())
    done = 0
    for day in sorted(per_day):
        done += per_day[day]
        connection.execute(
            insert(run_day).values(
                day=day,
                started=per_day[day],
                migrated=per_day[day],
                failed=0,
                retried=0,
                in_scope_remaining=remaining + total - done,
                eligible=0,
                completed_at=at(day),
            )
        )


def _records(index: int, plan: SupplierPlan) -> list[DeviceRecord]:
    supplier = supplier_name(index)

    def esme(kind: int, number: int, **changes: object) -> DeviceRecord:
        values: dict[str, object] = {
            "id": device_id(index, kind, number),
            "device_type": DeviceType.ESME,
            "generation": Generation.SMETS2,
            "smi_status": SmiStatus.COMMISSIONED,
            "model_key": GOOD_ESME,
            "supplier_id": supplier,
            "commissioned_on": COMMISSIONED,
            "credential": Credential.TCOS,
        }
        values.update(changes)
        return DeviceRecord(**values)  # type: ignore[arg-type]

    records: list[DeviceRecord] = []
    records += [esme(1, n) for n in range(plan.migrated)]
    records += [esme(2, n) for n in range(plan.failed)]
    records += [esme(3, n, model_key=BAD_ESME) for n in range(plan.non_migratable)]
    records += [esme(4, n, comms_status=CommsStatus.FAILED) for n in range(plan.comms_failure)]
    records += [
        esme(5, n, smi_status=SmiStatus.INSTALLED_NOT_COMMISSIONED, commissioned_on=None)
        for n in range(plan.installed_not_commissioned)
    ]
    records += [esme(6, n, smi_status=SmiStatus.DECOMMISSIONED) for n in range(plan.decommissioned)]
    records += [
        esme(7, n, model_key=GOOD_GSME, device_type=DeviceType.GSME) for n in range(plan.eligible)
    ]
    # A hub with no CoS certificate: out of scope, and in no supplier report.
    records.append(
        esme(8, 0, device_type=DeviceType.CHF, model_key=None, credential=Credential.NOT_APPLICABLE)
    )
    return records


def build_fleet(connection: Connection, suppliers: int, on: date = REPORT_DAY) -> Fleet:
    """Write ``suppliers`` suppliers' devices, attempts and events as a run leaves them."""
    fleet = Fleet()
    for index in range(suppliers):
        plan = SupplierPlan(
            migrated=2 + index % 4,
            failed=1 + index % 3,
            non_migratable=index % 2,
            comms_failure=1 + index % 2,
            installed_not_commissioned=index % 3,
            decommissioned=1,
            eligible=1 + index % 5,
        )
        fleet.plans[supplier_name(index)] = plan
        add_devices(connection, _records(index, plan), on)

    good = get_model(connection, GOOD_ESME).id
    bad = make_non_migratable(connection, BAD_ESME, date(2024, 2, 1))
    add_appeal(connection, bad, supplier_name(0), "LODGED", date(2024, 2, 5))
    add_appeal(connection, bad, supplier_name(1), "UPHELD", date(2024, 2, 20))

    for index in range(suppliers):
        supplier = supplier_name(index)
        plan = fleet.plans[supplier]
        migrated = [device_id(index, 1, n) for n in range(plan.migrated)]
        failed = [device_id(index, 2, n) for n in range(plan.failed)]
        fleet.failed_ids[supplier] = set(failed)
        for number, identifier in enumerate(migrated):
            day = date(2024, 2, 1 + number)
            add_attempt(
                connection,
                identifier,
                good,
                1,
                started_on=day,
                status="SUCCEEDED",
                step="RECONCILE",
            )
            append_device_events(connection, [DeviceEvent(identifier, day, "MIGRATED")], at(day))
        for identifier in failed:
            add_attempt(
                connection,
                identifier,
                good,
                1,
                started_on=date(2024, 2, 10),
                status="FAILED",
                step="REPLACE",
                error_code="COMMAND_REJECTED",
            )
            add_attempt(
                connection,
                identifier,
                good,
                2,
                started_on=date(2024, 2, 12),
                status="FAILED",
                step="REPLACE",
                error_code="COMMAND_REJECTED",
            )
            append_device_events(
                connection,
                [
                    DeviceEvent(
                        identifier,
                        date(2024, 2, 12),
                        "FAILED_MIGRATION",
                        error_code="COMMAND_REJECTED",
                    )
                ],
                at(date(2024, 2, 12)),
            )
        set_migration_state(connection, migrated, MigrationState.MIGRATED, Credential.ECOS, on)
        set_migration_state(
            connection, failed, MigrationState.AWAITING_REMEDIATION, Credential.TCOS, on
        )
    return fleet
