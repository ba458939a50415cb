"""Device Model states and what each state means for its devices."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ecos_migration.domain.eligibility import ModelCondition
from ecos_migration.errors import StateError


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


class ModelControl(enum.StrEnum):
    """An operator's control on a Device Model."""

    SUSPEND = "SUSPEND"
    RESUME = "RESUME"
    NON_MIGRATABLE = "NON_MIGRATABLE"
    MIGRATABLE = "MIGRATABLE"


@dataclass(frozen=True, slots=True)
class ControlTransition:
    """The outcome of a control: the new state, and the state kept to return to later.

    ``saved_state`` goes to the model's ``suspended_from_state`` column: the state a suspended
    model resumes to, or the state a Non-Migratable model returns to when made migratable.
    """

    new_state: ModelState
    saved_state: ModelState | None


def plan_control(
    control: ModelControl, state: ModelState, saved_state: ModelState | None
) -> ControlTransition:
    """Return the transition ``control`` makes from ``state``, or raise ``StateError``.

    - SUSPEND applies to NEW, PROVING, AWAITING_EVIDENCE and BULK, and saves that state.
    - RESUME applies to SUSPENDED and returns to the saved state (NEW when none is saved).
    - NON_MIGRATABLE applies to every state but NON_MIGRATABLE. It saves the state the model
      returns to when made migratable again: for a suspended model, the state it was suspended
      from, because the determination ends the triage that the suspension started.
    - MIGRATABLE applies to NON_MIGRATABLE and returns to the saved state (NEW when none).
    """
    if control is ModelControl.SUSPEND:
        suspended = suspended_state(state)
        if suspended is None:
            raise StateError(
                f"a Device Model in state {state.value} cannot be suspended; only models in "
                + ", ".join(s.value for s in ModelState if s in SUSPENDABLE_STATES)
                + " can"
            )
        return ControlTransition(*suspended)
    if control is ModelControl.RESUME:
        resumed = resumed_state(state, saved_state)
        if resumed is None:
            raise StateError(
                f"a Device Model in state {state.value} cannot be resumed: it is not suspended"
            )
        return ControlTransition(resumed, None)
    if control is ModelControl.NON_MIGRATABLE:
        if state is ModelState.NON_MIGRATABLE:
            raise StateError("the Device Model is already Non-Migratable")
        return_to = (saved_state or ModelState.NEW) if state is ModelState.SUSPENDED else state
        return ControlTransition(ModelState.NON_MIGRATABLE, return_to)
    if state is not ModelState.NON_MIGRATABLE:
        raise StateError(
            f"a Device Model in state {state.value} cannot be made migratable: "
            "it is not Non-Migratable"
        )
    return ControlTransition(saved_state or ModelState.NEW, None)


class AppealStatus(enum.StrEnum):
    """Where a Supplier's appeal against a Non-Migratable determination stands."""

    LODGED = "LODGED"
    UPHELD = "UPHELD"
    OVERTURNED = "OVERTURNED"


def check_appeal(state: ModelState, status: AppealStatus) -> None:
    """Raise ``StateError`` unless an appeal with ``status`` applies in ``state``.

    An appeal is against a Non-Migratable determination, so it is recorded only while the
    model is Non-Migratable. An OVERTURNED decision then makes the model migratable.
    """
    if state is not ModelState.NON_MIGRATABLE:
        raise StateError(
            f"an appeal ({status.value}) applies only to a Non-Migratable Device Model, "
            f"and this one is {state.value}"
        )
