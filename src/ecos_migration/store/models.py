"""Device Model rows: creating them from keys, reading them and changing their state."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Connection, insert, select, tuple_, update

from ecos_migration.domain.device import DeviceModelKey, DeviceType
from ecos_migration.domain.models import ModelState
from ecos_migration.errors import NotFoundError
from ecos_migration.store.events import ModelEvent, append_model_event
from ecos_migration.store.schema import device_model


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A Device Model as stored."""

    id: int
    key: DeviceModelKey
    state: ModelState
    state_reason: str | None
    state_changed_on: date | None
    suspended_from_state: ModelState | None
    proving_step: int | None
    non_migratable_on: date | None


def _record(row: object) -> ModelRecord:
    mapping = row._mapping  # type: ignore[attr-defined]
    return ModelRecord(
        id=mapping["id"],
        key=DeviceModelKey(
            DeviceType(mapping["device_type"]),
            mapping["manufacturer"],
            mapping["model"],
            mapping["firmware_version"],
        ),
        state=ModelState(mapping["state"]),
        state_reason=mapping["state_reason"],
        state_changed_on=mapping["state_changed_on"],
        suspended_from_state=(
            ModelState(mapping["suspended_from_state"]) if mapping["suspended_from_state"] else None
        ),
        proving_step=mapping["proving_step"],
        non_migratable_on=mapping["non_migratable_on"],
    )


def _key_columns() -> tuple[Column[Any], ...]:
    return (
        device_model.c.device_type,
        device_model.c.manufacturer,
        device_model.c.model,
        device_model.c.firmware_version,
    )


def ensure_models(
    connection: Connection, keys: Iterable[DeviceModelKey]
) -> dict[DeviceModelKey, int]:
    """Return the id of every key, creating the Device Models that do not exist yet."""
    wanted = set(keys)
    ids: dict[DeviceModelKey, int] = {}
    for record in all_models(connection):
        if record.key in wanted:
            ids[record.key] = record.id
    missing = [key for key in wanted if key not in ids]
    if missing:
        connection.execute(
            insert(device_model),
            [
                {
                    "device_type": key.device_type.value,
                    "manufacturer": key.manufacturer,
                    "model": key.model,
                    "firmware_version": key.firmware_version,
                    "state": ModelState.NEW.value,
                }
                for key in sorted(missing)
            ],
        )
        rows = connection.execute(
            select(device_model.c.id, *_key_columns()).where(
                tuple_(*_key_columns()).in_(
                    [
                        (k.device_type.value, k.manufacturer, k.model, k.firmware_version)
                        for k in missing
                    ]
                )
            )
        )
        for row in rows:
            key = DeviceModelKey(DeviceType(row[1]), row[2], row[3], row[4])
            ids[key] = row[0]
    return ids


def all_models(connection: Connection) -> Sequence[ModelRecord]:
    """Return every Device Model, ordered by its key."""
    rows = connection.execute(select(device_model).order_by(*_key_columns()))
    return [_record(row) for row in rows]


def get_model(connection: Connection, key: DeviceModelKey) -> ModelRecord:
    """Return the Device Model with ``key``, or raise ``NotFoundError``."""
    row = connection.execute(
        select(device_model).where(
            device_model.c.device_type == key.device_type.value,
            device_model.c.manufacturer == key.manufacturer,
            device_model.c.model == key.model,
            device_model.c.firmware_version == key.firmware_version,
        )
    ).first()
    if row is None:
        raise NotFoundError(
            f"Device Model {key} not found: `ecos-migration models` lists the known models"
        )
    return _record(row)


def get_model_by_id(connection: Connection, model_id: int) -> ModelRecord:
    """Return the Device Model with ``model_id``, or raise ``NotFoundError``."""
    row = connection.execute(select(device_model).where(device_model.c.id == model_id)).first()
    if row is None:
        raise NotFoundError(f"Device Model id {model_id} not found")
    return _record(row)


def change_model_state(
    connection: Connection,
    model: ModelRecord,
    new_state: ModelState,
    *,
    on: date,
    now: datetime,
    kind: str,
    actor: str,
    reason: str,
    suspended_from: ModelState | None = None,
) -> None:
    """Move a Device Model to ``new_state`` and record the change as a model event."""
    values: dict[str, object] = {
        "state": new_state.value,
        "state_reason": reason,
        "state_changed_on": on,
        "suspended_from_state": suspended_from.value if suspended_from else None,
    }
    if new_state is ModelState.NON_MIGRATABLE:
        values["non_migratable_on"] = on
    connection.execute(update(device_model).where(device_model.c.id == model.id).values(**values))
    append_model_event(
        connection,
        ModelEvent(
            model_id=model.id,
            occurred_on=on,
            kind=kind,
            from_state=model.state.value,
            to_state=new_state.value,
            actor=actor,
            reason=reason,
        ),
        now,
    )
