"""Operators' controls on Device Models: all stop, resume, Non-Migratable and appeals.

Which control applies from which state is decided by ``domain.models.plan_control``; this
module applies the decision to the store and records it as a model event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from ecos_migration.domain.device import DeviceModelKey
from ecos_migration.domain.models import (
    AppealStatus,
    ControlTransition,
    ModelControl,
    check_appeal,
    plan_control,
)
from ecos_migration.errors import StateError
from ecos_migration.store.appeals import record_appeal
from ecos_migration.store.events import ModelEvent, append_model_event
from ecos_migration.store.models import ModelRecord, all_models, change_model_state, get_model

logger = logging.getLogger(__name__)

# Model event kind recorded for each control.
EVENT_KINDS = {
    ModelControl.SUSPEND: "SUSPENDED",
    ModelControl.RESUME: "RESUMED",
    ModelControl.NON_MIGRATABLE: "DETERMINED_NON_MIGRATABLE",
    ModelControl.MIGRATABLE: "MADE_MIGRATABLE",
}


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """Who applies a control, why, and on which day."""

    actor: str
    reason: str
    on: date
    now: datetime


@dataclass(frozen=True, slots=True)
class AppliedControl:
    """A control applied to one Device Model."""

    model: ModelRecord
    transition: ControlTransition


def _apply(
    connection: Connection,
    model: ModelRecord,
    control: ModelControl,
    transition: ControlTransition,
    request: ControlRequest,
) -> AppliedControl:
    change_model_state(
        connection,
        model,
        transition.new_state,
        on=request.on,
        now=request.now,
        kind=EVENT_KINDS[control],
        actor=request.actor,
        reason=request.reason,
        suspended_from=transition.saved_state,
    )
    logger.info(
        "Applied a control to a Device Model.",
        extra={
            "model": str(model.key),
            "control": control.value,
            "from_state": model.state.value,
            "to_state": transition.new_state.value,
            "actor": request.actor,
        },
    )
    return AppliedControl(model, transition)


def control_model(
    connection: Connection, key: DeviceModelKey, control: ModelControl, request: ControlRequest
) -> AppliedControl:
    """Apply ``control`` to one Device Model; raise ``StateError`` if it does not apply."""
    model = get_model(connection, key)
    try:
        transition = plan_control(control, model.state, model.suspended_from_state)
    except StateError as exc:
        raise StateError(f"Device Model {key}: {exc}") from None
    return _apply(connection, model, control, transition, request)


def control_all_models(
    connection: Connection, control: ModelControl, request: ControlRequest
) -> Sequence[AppliedControl]:
    """Apply ``control`` to every Device Model it applies to; return those it changed.

    Only SUSPEND and RESUME apply to all models at once.
    """
    if control not in (ModelControl.SUSPEND, ModelControl.RESUME):
        raise StateError(f"{control.value} applies to one named Device Model, not to all")
    applied: list[AppliedControl] = []
    for model in all_models(connection):
        try:
            transition = plan_control(control, model.state, model.suspended_from_state)
        except StateError:
            continue
        applied.append(_apply(connection, model, control, transition, request))
    return applied


def appeal_model(
    connection: Connection,
    key: DeviceModelKey,
    supplier_id: str,
    status: AppealStatus,
    request: ControlRequest,
) -> AppliedControl | None:
    """Record an appeal against a Non-Migratable determination.

    An OVERTURNED decision also makes the model migratable, and that transition is returned.
    Raises ``StateError`` when the model is not Non-Migratable.
    """
    model = get_model(connection, key)
    try:
        check_appeal(model.state, status)
    except StateError as exc:
        raise StateError(f"Device Model {key}: {exc}") from None
    record_appeal(
        connection,
        model.id,
        supplier_id=supplier_id,
        status=status,
        on=request.on,
        note=request.reason or None,
    )
    append_model_event(
        connection,
        ModelEvent(
            model_id=model.id,
            occurred_on=request.on,
            kind=f"APPEAL_{status.value}",
            from_state=model.state.value,
            to_state=model.state.value,
            actor=request.actor,
            reason=f"appeal by {supplier_id}" + (f": {request.reason}" if request.reason else ""),
        ),
        request.now,
    )
    if status is not AppealStatus.OVERTURNED:
        return None
    transition = plan_control(ModelControl.MIGRATABLE, model.state, model.suspended_from_state)
    overturned = ControlRequest(
        request.actor,
        f"the Secretary of State overturned the determination on appeal by {supplier_id}",
        request.on,
        request.now,
    )
    return _apply(connection, model, ModelControl.MIGRATABLE, transition, overturned)
