"""ECoS Migration Incidents: opening, listing and resolving them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, select, update

from ecos_migration.errors import NotFoundError, StateError
from ecos_migration.store.schema import device_model, incident

OPEN = "OPEN"
RESOLVED = "RESOLVED"


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One incident as stored; ``model`` is written ``TYPE/MANUFACTURER/MODEL/FIRMWARE``."""

    id: int
    category: int
    title: str
    opened_on: date
    target_resolution_at: datetime
    status: str
    resolved_on: date | None
    note: str | None
    model: str | None


def open_incident(
    connection: Connection,
    *,
    model_id: int | None,
    category: int,
    title: str,
    opened_on: date,
    target_resolution_at: datetime,
) -> int:
    """Open an incident and return its id."""
    result = connection.execute(
        insert(incident)
        .values(
            model_id=model_id,
            category=category,
            title=title,
            opened_on=opened_on,
            target_resolution_at=target_resolution_at,
            status=OPEN,
        )
        .returning(incident.c.id)
    )
    return int(result.scalar_one())


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; every stored instant is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def list_incidents(connection: Connection) -> Sequence[IncidentRecord]:
    """Return every incident, oldest first."""
    rows = connection.execute(
        select(
            incident,
            device_model.c.device_type,
            device_model.c.manufacturer,
            device_model.c.model.label("model_name"),
            device_model.c.firmware_version,
        )
        .select_from(incident.outerjoin(device_model, device_model.c.id == incident.c.model_id))
        .order_by(incident.c.id)
    )
    return [
        IncidentRecord(
            id=row.id,
            category=row.category,
            title=row.title,
            opened_on=row.opened_on,
            target_resolution_at=_aware(row.target_resolution_at),
            status=row.status,
            resolved_on=row.resolved_on,
            note=row.note,
            model=(
                f"{row.device_type}/{row.manufacturer}/{row.model_name}/{row.firmware_version}"
                if row.device_type
                else None
            ),
        )
        for row in rows
    ]


def resolve_incident(connection: Connection, incident_id: int, note: str, on: date) -> None:
    """Mark an open incident resolved on ``on`` with ``note``."""
    status = connection.execute(
        select(incident.c.status).where(incident.c.id == incident_id)
    ).scalar()
    if status is None:
        raise NotFoundError(
            f"incident {incident_id} not found: `ecos-migration incidents` lists them"
        )
    if status == RESOLVED:
        raise StateError(f"incident {incident_id} is already resolved")
    connection.execute(
        update(incident)
        .where(incident.c.id == incident_id)
        .values(status=RESOLVED, resolved_on=on, note=note)
    )
