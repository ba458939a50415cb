"""Appeals of Suppliers against Non-Migratable determinations."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, select

from ecos_migration.domain.models import AppealStatus
from ecos_migration.store.schema import appeal


def record_appeal(
    connection: Connection,
    model_id: int,
    *,
    supplier_id: str,
    status: AppealStatus,
    on: date,
    note: str | None,
) -> int:
    """Insert one appeal row; return its id."""
    result = connection.execute(
        insert(appeal)
        .values(
            model_id=model_id,
            supplier_id=supplier_id,
            status=status.value,
            recorded_on=on,
            note=note,
        )
        .returning(appeal.c.id)
    )
    return int(result.scalar_one())


def appeals_of_model(connection: Connection, model_id: int) -> Sequence[dict[str, Any]]:
    """Return a Device Model's appeals, oldest first."""
    rows = connection.execute(
        select(appeal).where(appeal.c.model_id == model_id).order_by(appeal.c.id)
    )
    return [dict(row._mapping) for row in rows]
