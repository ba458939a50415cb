"""Moving a Device Model through its proving steps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, update

from ecos_migration.store.events import ModelEvent, append_model_event
from ecos_migration.store.models import ModelRecord
from ecos_migration.store.schema import device_model


def set_proving_step(
    connection: Connection,
    model: ModelRecord,
    step: int,
    *,
    on: date,
    now: datetime,
    reason: str,
) -> None:
    """Start proving step ``step`` (0 based) of the model and record it as a model event."""
    connection.execute(
        update(device_model).where(device_model.c.id == model.id).values(proving_step=step)
    )
    append_model_event(
        connection,
        ModelEvent(
            model_id=model.id,
            occurred_on=on,
            kind="PROVING_STEP_STARTED",
            from_state=model.state.value,
            to_state=model.state.value,
            actor="engine",
            reason=reason,
        ),
        now,
    )
