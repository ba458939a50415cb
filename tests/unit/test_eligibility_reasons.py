"""The eligibility rule: every reason, the precedence between them, and the date boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import (
    DeviceFacts,
    EligibilityPolicy,
    ModelCondition,
    Reason,
    evaluate,
    evaluate_device,
    is_in_scope,
)

ON = date(2023, 7, 1)
POLICY = EligibilityPolicy()

ELIGIBLE = DeviceFacts(
    generation=Generation.SMETS2,
    device_type=DeviceType.ESME,
    smi_status=SmiStatus.COMMISSIONED,
    credential=Credential.TCOS,
    comms_status=CommsStatus.OK,
    commissioned_on=ON - timedelta(days=400),
)
ELIGIBLE_GPF = replace(ELIGIBLE, device_type=DeviceType.GPF, hub_status=SmiStatus.COMMISSIONED)

# For each reason: facts for which it is the only one that applies, and the model condition.
ONLY: dict[Reason, tuple[DeviceFacts, ModelCondition]] = {
    Reason.OUT_OF_SCOPE_SMETS1: (
        replace(ELIGIBLE, generation=Generation.SMETS1),
        ModelCondition.NONE,
    ),
    Reason.OUT_OF_SCOPE_DEVICE_TYPE: (
        replace(ELIGIBLE, device_type=DeviceType.CHF),
        ModelCondition.NONE,
    ),
    Reason.ALREADY_ECOS: (replace(ELIGIBLE, credential=Credential.ECOS), ModelCondition.NONE),
    Reason.MIGRATION_IN_PROGRESS: (
        replace(ELIGIBLE, migration_state=MigrationState.IN_PROGRESS),
        ModelCondition.NONE,
    ),
    Reason.AWAITING_REMEDIATION: (
        replace(ELIGIBLE, migration_state=MigrationState.AWAITING_REMEDIATION),
        ModelCondition.NONE,
    ),
    Reason.NOT_COMMISSIONED: (replace(ELIGIBLE, smi_status=SmiStatus.PENDING), ModelCondition.NONE),
    Reason.GPF_HUB_NOT_COMMISSIONED: (
        replace(ELIGIBLE_GPF, hub_status=SmiStatus.INSTALLED_NOT_COMMISSIONED),
        ModelCondition.NONE,
    ),
    Reason.MODEL_NON_MIGRATABLE: (ELIGIBLE, ModelCondition.NON_MIGRATABLE),
    Reason.MODEL_SUSPENDED: (ELIGIBLE, ModelCondition.SUSPENDED),
    Reason.CREDENTIAL_UNKNOWN: (
        replace(ELIGIBLE, credential=Credential.UNKNOWN),
        ModelCondition.NONE,
    ),
    Reason.COMMS_FAILURE: (replace(ELIGIBLE, comms_status=CommsStatus.FAILED), ModelCondition.NONE),
    Reason.COS_REQUEST_PENDING: (
        replace(ELIGIBLE, cos_request_pending_until=ON + timedelta(days=3)),
        ModelCondition.NONE,
    ),
    Reason.RECENT_CHANGE_OF_SUPPLIER: (
        replace(ELIGIBLE, last_change_of_supplier_on=ON - timedelta(days=5)),
        ModelCondition.NONE,
    ),
    Reason.RECENTLY_COMMISSIONED: (
        replace(ELIGIBLE, commissioned_on=ON - timedelta(days=5)),
        ModelCondition.NONE,
    ),
}


def _with_both(first: Reason, second: Reason) -> tuple[DeviceFacts, ModelCondition]:
    """Return facts where both reasons apply, by merging what makes each one apply."""
    facts_a, condition_a = ONLY[first]
    facts_b, condition_b = ONLY[second]
    merged = facts_a
    for name in DeviceFacts.__slots__:
        value_b = getattr(facts_b, name)
        if value_b != getattr(ELIGIBLE, name) and getattr(merged, name) == getattr(ELIGIBLE, name):
            merged = replace(merged, **{name: value_b})
    gpf_rule = Reason.GPF_HUB_NOT_COMMISSIONED in (first, second)
    if gpf_rule and merged.device_type is DeviceType.ESME:
        merged = replace(merged, device_type=DeviceType.GPF)
    condition = condition_a if condition_a is not ModelCondition.NONE else condition_b
    return merged, condition


def test_eligible_device_has_no_reason() -> None:
    assert evaluate(ELIGIBLE, ModelCondition.NONE, ON) is None
    assert evaluate(ELIGIBLE_GPF, ModelCondition.NONE, ON) is None


@pytest.mark.parametrize("reason", list(Reason))
def test_each_reason_alone(reason: Reason) -> None:
    facts, condition = ONLY[reason]
    assert evaluate(facts, condition, ON) is reason


def test_every_reason_has_a_case() -> None:
    assert set(ONLY) == set(Reason)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (a, b)
        for a, b in zip(list(Reason), list(Reason)[1:], strict=False)
        # A GPF that is not Commissioned never reaches the hub check; a test below covers it.
        if (a, b) != (Reason.NOT_COMMISSIONED, Reason.GPF_HUB_NOT_COMMISSIONED)
    ],
)
def test_adjacent_reasons_precedence(first: Reason, second: Reason) -> None:
    facts, condition = _with_both(first, second)
    assert evaluate(facts, condition, ON) is first


def test_gpf_not_commissioned_before_hub() -> None:
    facts = replace(ELIGIBLE_GPF, smi_status=SmiStatus.PENDING, hub_status=SmiStatus.PENDING)
    assert evaluate(facts, ModelCondition.NONE, ON) is Reason.NOT_COMMISSIONED


def test_every_reason_precedes_later_ones() -> None:
    reasons = list(Reason)
    for earlier_index, earlier in enumerate(reasons):
        for later in reasons[earlier_index + 1 :]:
            facts, condition = _with_both(earlier, later)
            result = evaluate(facts, condition, ON)
            if earlier is Reason.NOT_COMMISSIONED and later is Reason.GPF_HUB_NOT_COMMISSIONED:
                continue
            assert result is earlier, (earlier, later, result)


@pytest.mark.parametrize("status", [SmiStatus.COMMISSIONED, SmiStatus.INSTALLED_NOT_COMMISSIONED])
def test_gpf_qualifying_statuses(status: SmiStatus) -> None:
    facts = replace(ELIGIBLE_GPF, smi_status=status)
    assert evaluate(facts, ModelCondition.NONE, ON) is None


@pytest.mark.parametrize(
    "status",
    [
        s
        for s in SmiStatus
        if s not in (SmiStatus.COMMISSIONED, SmiStatus.INSTALLED_NOT_COMMISSIONED)
    ],
)
def test_gpf_other_statuses_not_commissioned(status: SmiStatus) -> None:
    facts = replace(ELIGIBLE_GPF, smi_status=status)
    assert evaluate(facts, ModelCondition.NONE, ON) is Reason.NOT_COMMISSIONED


def test_esme_installed_not_commissioned() -> None:
    facts = replace(ELIGIBLE, smi_status=SmiStatus.INSTALLED_NOT_COMMISSIONED)
    assert evaluate(facts, ModelCondition.NONE, ON) is Reason.NOT_COMMISSIONED


@pytest.mark.parametrize("hub", [None, *[s for s in SmiStatus if s is not SmiStatus.COMMISSIONED]])
def test_gpf_hub_must_be_commissioned(hub: SmiStatus | None) -> None:
    facts = replace(ELIGIBLE_GPF, hub_status=hub)
    assert evaluate(facts, ModelCondition.NONE, ON) is Reason.GPF_HUB_NOT_COMMISSIONED


def test_migrated_device_is_already_ecos() -> None:
    facts = replace(ELIGIBLE, migration_state=MigrationState.MIGRATED)
    assert evaluate(facts, ModelCondition.NONE, ON) is Reason.ALREADY_ECOS


def test_recently_commissioned_day_14_boundary() -> None:
    commissioned = date(2023, 6, 1)
    facts = replace(ELIGIBLE, commissioned_on=commissioned)
    day_13 = commissioned + timedelta(days=13)
    day_14 = commissioned + timedelta(days=14)
    assert evaluate(facts, ModelCondition.NONE, day_13) is Reason.RECENTLY_COMMISSIONED
    assert evaluate(facts, ModelCondition.NONE, day_14) is None
    assert evaluate_device(facts, day_13, POLICY).until == day_14


def test_recent_change_of_supplier_day_28_boundary() -> None:
    changed = date(2023, 6, 1)
    facts = replace(ELIGIBLE, last_change_of_supplier_on=changed)
    day_27 = changed + timedelta(days=27)
    day_28 = changed + timedelta(days=28)
    assert evaluate(facts, ModelCondition.NONE, day_27) is Reason.RECENT_CHANGE_OF_SUPPLIER
    assert evaluate(facts, ModelCondition.NONE, day_28) is None
    assert evaluate_device(facts, day_27, POLICY).until == day_28


def test_transient_periods_are_configurable() -> None:
    policy = EligibilityPolicy(recently_commissioned_days=3, recent_change_of_supplier_days=5)
    facts = replace(ELIGIBLE, commissioned_on=ON - timedelta(days=3))
    assert evaluate(facts, ModelCondition.NONE, ON, policy) is None
    facts = replace(ELIGIBLE, last_change_of_supplier_on=ON - timedelta(days=4))
    assert evaluate(facts, ModelCondition.NONE, ON, policy) is Reason.RECENT_CHANGE_OF_SUPPLIER


def test_next_transient_takes_over() -> None:
    facts = replace(
        ELIGIBLE,
        last_change_of_supplier_on=ON - timedelta(days=20),
        commissioned_on=ON - timedelta(days=2),
    )
    first = evaluate_device(facts, ON, POLICY)
    assert first.reason is Reason.RECENT_CHANGE_OF_SUPPLIER
    assert first.until == ON + timedelta(days=8)
    assert first.until is not None
    second = evaluate_device(facts, first.until, POLICY)
    assert second.reason is Reason.RECENTLY_COMMISSIONED
    assert second.until == ON + timedelta(days=12)


def test_in_scope_types_are_configurable() -> None:
    policy = EligibilityPolicy(in_scope_device_types=frozenset({DeviceType.ESME}))
    gsme = replace(ELIGIBLE, device_type=DeviceType.GSME)
    assert evaluate(gsme, ModelCondition.NONE, ON, policy) is Reason.OUT_OF_SCOPE_DEVICE_TYPE


def test_in_scope_excludes_only_scope_reasons() -> None:
    assert not is_in_scope(Reason.OUT_OF_SCOPE_SMETS1)
    assert not is_in_scope(Reason.OUT_OF_SCOPE_DEVICE_TYPE)
    assert all(is_in_scope(r) for r in Reason if not r.name.startswith("OUT_OF_SCOPE"))
    assert is_in_scope(None)


def test_structural_reasons_have_no_end_date() -> None:
    for reason in list(Reason)[:11]:
        facts, _condition = ONLY[reason]
        assert evaluate_device(facts, ON, POLICY).until is None, reason
