"""Which operator control applies from which Device Model state, and where it leads."""

from __future__ import annotations

import pytest

from ecos_migration.domain.models import (
    AppealStatus,
    ControlTransition,
    ModelControl,
    ModelState,
    check_appeal,
    plan_control,
)
from ecos_migration.errors import StateError

ACTIVE = [ModelState.NEW, ModelState.PROVING, ModelState.AWAITING_EVIDENCE, ModelState.BULK]


@pytest.mark.parametrize("state", ACTIVE)
def test_suspend_saves_state(state: ModelState) -> None:
    assert plan_control(ModelControl.SUSPEND, state, None) == ControlTransition(
        ModelState.SUSPENDED, state
    )


@pytest.mark.parametrize("state", [ModelState.SUSPENDED, ModelState.NON_MIGRATABLE])
def test_suspend_rejected(state: ModelState) -> None:
    with pytest.raises(StateError, match="cannot be suspended"):
        plan_control(ModelControl.SUSPEND, state, None)


@pytest.mark.parametrize("saved", ACTIVE)
def test_resume_returns_to_saved(saved: ModelState) -> None:
    transition = plan_control(ModelControl.RESUME, ModelState.SUSPENDED, saved)
    assert transition == ControlTransition(saved, None)


def test_resume_without_saved_state() -> None:
    transition = plan_control(ModelControl.RESUME, ModelState.SUSPENDED, None)
    assert transition.new_state is ModelState.NEW


@pytest.mark.parametrize("state", [*ACTIVE, ModelState.NON_MIGRATABLE])
def test_resume_rejected(state: ModelState) -> None:
    with pytest.raises(StateError, match="not suspended"):
        plan_control(ModelControl.RESUME, state, None)


@pytest.mark.parametrize("state", ACTIVE)
def test_non_migratable_saves_state(state: ModelState) -> None:
    transition = plan_control(ModelControl.NON_MIGRATABLE, state, None)
    assert transition == ControlTransition(ModelState.NON_MIGRATABLE, state)


def test_non_migratable_from_suspended() -> None:
    transition = plan_control(ModelControl.NON_MIGRATABLE, ModelState.SUSPENDED, ModelState.BULK)
    assert transition == ControlTransition(ModelState.NON_MIGRATABLE, ModelState.BULK)


def test_non_migratable_twice_rejected() -> None:
    with pytest.raises(StateError, match="already Non-Migratable"):
        plan_control(ModelControl.NON_MIGRATABLE, ModelState.NON_MIGRATABLE, ModelState.BULK)


@pytest.mark.parametrize("saved", ACTIVE)
def test_migratable_returns_to_saved(saved: ModelState) -> None:
    transition = plan_control(ModelControl.MIGRATABLE, ModelState.NON_MIGRATABLE, saved)
    assert transition == ControlTransition(saved, None)


@pytest.mark.parametrize("state", [*ACTIVE, ModelState.SUSPENDED])
def test_migratable_rejected(state: ModelState) -> None:
    with pytest.raises(StateError, match="not Non-Migratable"):
        plan_control(ModelControl.MIGRATABLE, state, None)


@pytest.mark.parametrize("status", list(AppealStatus))
def test_appeal_needs_non_migratable(status: AppealStatus) -> None:
    check_appeal(ModelState.NON_MIGRATABLE, status)
    for state in [*ACTIVE, ModelState.SUSPENDED]:
        with pytest.raises(StateError, match="only to a Non-Migratable"):
            check_appeal(state, status)
