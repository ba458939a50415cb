"""Appending device and model events: every transition is recorded, never overwritten."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ecos_migration.store.bulk import RowStatement
from ecos_migration.store.schema import device_event, model_event


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One change to a device: what happened, the old and new value, and why."""

    device_id: str
    occurred_on: date
    kind: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    attempt_id: str | None = None
    error_code: str | None = None
    actor: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ModelEvent:
    """One change to a Device Model's state, with its actor and reason."""

    model_id: int
    occurred_on: date
    kind: str
    from_state: str | None = None
    to_state: str | None = None
    actor: str | None = None
    reason: str | None = None


_DEVICE_EVENT_FIELDS = tuple(f.name for f in fields(DeviceEvent))
_INSERT_DEVICE_EVENT = RowStatement(device_event, (*_DEVICE_EVENT_FIELDS, "recorded_at"))


def append_device_events(
    connection: Connection, events: Iterable[DeviceEvent], recorded_at: datetime
) -> int:
    """Insert device events in one batch; return how many were written."""
    # Plain tuples read from the slots: dataclasses.asdict deep-copies every value, and
    # SQLAlchemy's per-row parameter handling cost more than the insert itself.
    return _INSERT_DEVICE_EVENT.execute(
        connection,
        [
            (
                e.device_id,
                e.occurred_on,
                e.kind,
                e.field,
                e.old_value,
                e.new_value,
                e.attempt_id,
                e.error_code,
                e.actor,
                e.reason,
                recorded_at,
            )
            for e in events
        ],
    )


def append_model_event(connection: Connection, event: ModelEvent, recorded_at: datetime) -> None:
    """Insert one model event."""
    connection.execute(insert(model_event).values(**asdict(event), recorded_at=recorded_at))


def device_events(connection: Connection, device_id: str) -> Sequence[dict[str, Any]]:
    """Return a device's events, oldest first."""
    rows = connection.execute(
        select(device_event)
        .where(device_event.c.device_id == device_id)
        .order_by(device_event.c.id)
    )
    return [dict(row._mapping) for row in rows]


def model_events(connection: Connection, model_id: int) -> Sequence[dict[str, Any]]:
    """Return a Device Model's events, oldest first."""
    rows = connection.execute(
        select(model_event).where(model_event.c.model_id == model_id).order_by(model_event.c.id)
    )
    return [dict(row._mapping) for row in rows]
