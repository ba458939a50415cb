"""Device rows: inserting and updating snapshots of the inventory, and reading one device."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, insert, select, update

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
from ecos_migration.store.eligibility import refresh_devices, refresh_gpfs_of_hubs
from ecos_migration.store.events import DeviceEvent, append_device_events
from ecos_migration.store.models import all_models, ensure_models
from ecos_migration.store.schema import device

BATCH_SIZE = 5000


class DeviceRecord(NamedTuple):
    """One device as an inventory snapshot describes it, already validated.

    A named tuple rather than a frozen dataclass: an import builds one per row, and a
    frozen dataclass took about 4 microseconds to build against well under one for a tuple.
    """

    id: str
    device_type: DeviceType
    generation: Generation
    smi_status: SmiStatus
    model_key: DeviceModelKey | None = None
    chf_id: str | None = None
    supplier_id: str | None = None
    mpxn: str | None = None
    commissioned_on: date | None = None
    last_change_of_supplier_on: date | None = None
    comms_status: CommsStatus = CommsStatus.OK
    credential: Credential = Credential.UNKNOWN


# Columns a snapshot may change, with the event field name recorded for each change.
TRACKED_COLUMNS = (
    "device_type",
    "generation",
    "smi_status",
    "model_id",
    "chf_id",
    "supplier_id",
    "mpxn",
    "commissioned_on",
    "last_change_of_supplier_on",
    "comms_status",
    "credential",
)


def selection_key(seed: int, device_id: str) -> int:
    """Return the device's place in the seeded random selection order (a signed 63-bit integer).

    A keyed hash of the device id makes the order independent of insertion order and the
    same for the same seed, so a run can be replayed.
    """
    digest = hashlib.blake2b(
        device_id.encode("ascii"), digest_size=8, key=seed.to_bytes(8, "big", signed=False)
    ).digest()
    return int.from_bytes(digest, "big") >> 1


def selection_keys(seed: int) -> Callable[[str], int]:
    """Return a function computing ``selection_key(seed, device_id)`` for many devices.

    Keying BLAKE2b costs a compression of the key block per hash; copying a hasher that
    has already absorbed the key skips it, which matters for a million devices.
    """
    keyed = hashlib.blake2b(digest_size=8, key=seed.to_bytes(8, "big", signed=False))
    from_bytes = int.from_bytes

    def key_of(device_id: str) -> int:
        hasher = keyed.copy()
        hasher.update(device_id.encode("ascii"))
        return from_bytes(hasher.digest(), "big") >> 1

    return key_of


def _row_values(record: DeviceRecord, model_ids: dict[DeviceModelKey, int]) -> dict[str, Any]:
    return {
        "id": record.id,
        "device_type": record.device_type.value,
        "generation": record.generation.value,
        "smi_status": record.smi_status.value,
        "model_id": model_ids[record.model_key] if record.model_key else None,
        "chf_id": record.chf_id,
        "supplier_id": record.supplier_id,
        "mpxn": record.mpxn,
        "commissioned_on": record.commissioned_on,
        "last_change_of_supplier_on": record.last_change_of_supplier_on,
        "comms_status": record.comms_status.value,
        "credential": record.credential.value,
    }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


@dataclass
class UpsertResult:
    """What an inventory snapshot changed."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0


def _chunks(records: Sequence[DeviceRecord], size: int) -> Iterator[Sequence[DeviceRecord]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


# Migration states in which the product's own record of the credential is the truth: it
# changed the credential itself, or is changing it now, so a snapshot can only be older.
_OWN_CREDENTIAL_STATES = frozenset(
    {MigrationState.MIGRATED.value, MigrationState.IN_PROGRESS.value}
)


def _keep_own_credential(
    record_id: str, old: Any, values: dict[str, Any], on: date, actor: str
) -> DeviceEvent | None:
    """Keep the stored credential of a device the product migrated or is migrating.

    Returns the event recording the snapshot's disagreeing value, or ``None`` when the
    snapshot agrees or the device is in another migration state.
    """
    if old["migration_state"] not in _OWN_CREDENTIAL_STATES:
        return None
    if old["credential"] == values["credential"]:
        return None
    snapshot_value = values["credential"]
    values["credential"] = old["credential"]
    return DeviceEvent(
        record_id,
        on,
        "CREDENTIAL_DISAGREEMENT",
        field="credential",
        old_value=old["credential"],
        new_value=snapshot_value,
        actor=actor,
        reason=(
            f"the snapshot states {snapshot_value} for a device that is "
            f"{old['migration_state']}; the product's own record {old['credential']} is kept"
        ),
    )


def _event_text(column: str, value: Any, model_keys: dict[int, str]) -> str | None:
    if column == "model_id" and value is not None:
        return model_keys.get(value, str(value))
    return _text(value)


def upsert_devices(
    connection: Connection,
    records: Sequence[DeviceRecord],
    *,
    on: date,
    now: datetime,
    seed: int,
    policy: EligibilityPolicy,
    actor: str = "inventory",
    keep: frozenset[str] = frozenset(),
    keep_for: Mapping[str, frozenset[str]] | None = None,
) -> UpsertResult:
    """Insert new devices and update known ones in place, recording every change as an event.

    ``keep`` names columns of ``TRACKED_COLUMNS`` the snapshot does not carry: a known
    device keeps its stored value, a new one gets the record's value. ``keep_for`` adds
    such columns per device id, for fields a snapshot carries for some devices only.

    A snapshot never overwrites the credential of a device that is MIGRATED or IN_PROGRESS;
    the disagreement is recorded as a ``CREDENTIAL_DISAGREEMENT`` event instead. A change of
    Device Model is recorded with the models written ``TYPE/MANUFACTURER/MODEL/FIRMWARE``.

    Every inserted or changed device, and every GPF of a changed communications hub, is
    evaluated for eligibility on ``on``.
    """
    result = UpsertResult()
    model_ids = ensure_models(connection, {r.model_key for r in records if r.model_key})
    model_keys = {model.id: str(model.key) for model in all_models(connection)}
    touched: list[str] = []
    hubs: list[str] = []
    for chunk in _chunks(records, BATCH_SIZE):
        existing = {
            row.id: row._mapping
            for row in connection.execute(
                select(device).where(device.c.id.in_([r.id for r in chunk]))
            )
        }
        new_rows: list[dict[str, Any]] = []
        changed_rows: list[dict[str, Any]] = []
        events: list[DeviceEvent] = []
        for record in chunk:
            values = _row_values(record, model_ids)
            old = existing.get(record.id)
            if old is None:
                values["selection_key"] = selection_key(seed, record.id)
                values["first_seen_on"] = on
                new_rows.append(values)
                events.append(DeviceEvent(record.id, on, "DEVICE_ADDED", actor=actor))
                touched.append(record.id)
                if record.device_type is DeviceType.CHF:
                    hubs.append(record.id)
                continue
            for column in keep | (keep_for or {}).get(record.id, frozenset()):
                values[column] = old[column]
            disagreement = _keep_own_credential(record.id, old, values, on, actor)
            if disagreement is not None:
                events.append(disagreement)
            changes = [
                column for column in TRACKED_COLUMNS if _text(old[column]) != _text(values[column])
            ]
            if not changes:
                result.unchanged += 1
                continue
            changed_rows.append({f"b_{key}": value for key, value in values.items()})
            events.extend(
                DeviceEvent(
                    record.id,
                    on,
                    "FACT_CHANGED",
                    field=column,
                    old_value=_event_text(column, old[column], model_keys),
                    new_value=_event_text(column, values[column], model_keys),
                    actor=actor,
                )
                for column in changes
            )
            touched.append(record.id)
            if record.device_type is DeviceType.CHF and "smi_status" in changes:
                hubs.append(record.id)
        if new_rows:
            connection.execute(insert(device), new_rows)
        if changed_rows:
            connection.execute(
                update(device)
                .where(device.c.id == bindparam("b_id"))
                .values({column: bindparam(f"b_{column}") for column in TRACKED_COLUMNS}),
                changed_rows,
            )
        result.inserted += len(new_rows)
        result.updated += len(changed_rows)
        result.events += append_device_events(connection, events, now)
    refresh_devices(connection, touched, on, policy)
    refresh_gpfs_of_hubs(connection, hubs, on, policy)
    return result


def get_device(connection: Connection, device_id: str) -> dict[str, Any] | None:
    """Return a device's stored row, or ``None`` if it is not in the inventory."""
    row = connection.execute(select(device).where(device.c.id == device_id)).first()
    return dict(row._mapping) if row else None


RECORD_FIELDS = DeviceRecord._fields
