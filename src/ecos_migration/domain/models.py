"""Device Model states and what each state means for its devices."""

from __future__ import annotations

import enum

from ecos_migration.domain.eligibility import ModelCondition


class ModelState(enum.StrEnum):
    """The life of a Device Model in the migration.

    NEW: no device of the model has been attempted yet.
    PROVING: devices are migrated in growing proving steps.
    AWAITING_EVIDENCE: proving is done but the bulk gate still lacks evidence.
    BULK: every eligible device of the model may be selected.
    SUSPENDED: all stop; no new device is started until the model is resumed.
    NON_MIGRATABLE: DCC determined after triage that the model cannot be migrated.
    """

    NEW = "NEW"
    PROVING = "PROVING"
    AWAITING_EVIDENCE = "AWAITING_EVIDENCE"
    BULK = "BULK"
    SUSPENDED = "SUSPENDED"
    NON_MIGRATABLE = "NON_MIGRATABLE"


def model_condition(state: ModelState) -> ModelCondition:
    """Return the eligibility condition a Device Model in ``state`` puts on its devices."""
    if state is ModelState.NON_MIGRATABLE:
        return ModelCondition.NON_MIGRATABLE
    if state is ModelState.SUSPENDED:
        return ModelCondition.SUSPENDED
    return ModelCondition.NONE


# States an operator's all stop can suspend; NON_MIGRATABLE and SUSPENDED stay as they are.
SUSPENDABLE_STATES = frozenset(
    {ModelState.NEW, ModelState.PROVING, ModelState.AWAITING_EVIDENCE, ModelState.BULK}
)


def suspended_state(state: ModelState) -> tuple[ModelState, ModelState] | None:
    """Return (new state, state to resume to) for suspending, or ``None`` if it does not apply."""
    if state not in SUSPENDABLE_STATES:
        return None
    return ModelState.SUSPENDED, state


def resumed_state(state: ModelState, suspended_from: ModelState | None) -> ModelState | None:
    """Return the state a resumed model returns to, or ``None`` if it is not suspended."""
    if state is not ModelState.SUSPENDED:
        return None
    return suspended_from or ModelState.NEW
