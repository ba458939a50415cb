"""The pure Device Model life rules: proving quota and steps, bulk gate, automatic suspension."""

from __future__ import annotations

from datetime import date

import pytest

from ecos_migration.config import MAX_PROVING_DEVICES, ProvingSettings, SuspensionSettings
from ecos_migration.domain.error_strategy import load_error_strategy
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.domain.model_life import (
    ProvingCounts,
    StepVerdict,
    after_proving,
    automatic_suspension,
    bulk_gate,
    judge_proving_step,
    proving_quota,
)
from ecos_migration.domain.models import ModelState

PLAN = ProvingSettings(steps=[1, 4, 10, 35, 50, 100, 100], success_rate=0.95)
SUSPENSION = SuspensionSettings(
    failure_rate=0.10,
    window_attempts=200,
    min_attempts=50,
    incident_category=2,
    proving_incident_category=3,
)


def counts(step: int, total: int, in_step: int, ok: int = 0, failed: int = 0) -> ProvingCounts:
    return ProvingCounts(step, total, in_step, ok, failed)


def test_quota_first_step() -> None:
    assert proving_quota(PLAN, counts(0, 0, 0)) == 1


def test_quota_counts_started_devices() -> None:
    assert proving_quota(PLAN, counts(3, 20, 15)) == 20


def test_quota_after_last_step() -> None:
    assert proving_quota(PLAN, counts(7, 300, 0)) == 0


def test_quota_never_passes_cap() -> None:
    # A plan that slipped past validation still cannot start a 301st proving device.
    oversized = ProvingSettings.model_construct(steps=[200, 200], success_rate=0.95)
    assert proving_quota(oversized, counts(0, 0, 0)) == 200
    assert proving_quota(oversized, counts(1, 200, 0)) == MAX_PROVING_DEVICES - 200
    assert proving_quota(oversized, counts(1, 300, 100)) == 0


def test_quota_whole_plan_within_cap() -> None:
    total = 0
    for step in range(len(PLAN.steps)):
        quota = proving_quota(PLAN, counts(step, total, 0))
        total += quota
    assert total == sum(PLAN.steps)
    assert total <= MAX_PROVING_DEVICES


def test_step_waits_for_outcomes() -> None:
    judgement = judge_proving_step(PLAN, counts(1, 5, 4, ok=3), more_devices_available=True)
    assert judgement.verdict is StepVerdict.WAIT


def test_step_waits_until_full() -> None:
    judgement = judge_proving_step(PLAN, counts(1, 3, 2, ok=2), more_devices_available=True)
    assert judgement.verdict is StepVerdict.WAIT


def test_step_judged_when_model_runs_out() -> None:
    judgement = judge_proving_step(PLAN, counts(1, 3, 2, ok=2), more_devices_available=False)
    assert judgement.verdict is StepVerdict.NEXT_STEP
    assert judgement.success_rate == 1.0


def test_step_passes_at_threshold() -> None:
    # 19 of 20 is exactly 95 %.
    plan = ProvingSettings(steps=[20, 20], success_rate=0.95)
    judgement = judge_proving_step(
        plan, counts(0, 20, 20, ok=19, failed=1), more_devices_available=True
    )
    assert judgement.verdict is StepVerdict.NEXT_STEP


def test_step_below_rate_suspends() -> None:
    judgement = judge_proving_step(
        PLAN, counts(2, 15, 10, ok=9, failed=1), more_devices_available=True
    )
    assert judgement.verdict is StepVerdict.SUSPEND
    assert judgement.success_rate == pytest.approx(0.9)


def test_last_step_finishes_proving() -> None:
    judgement = judge_proving_step(PLAN, counts(6, 300, 100, ok=100), more_devices_available=True)
    assert judgement.verdict is StepVerdict.PROVING_DONE


def test_empty_step_passes() -> None:
    judgement = judge_proving_step(PLAN, counts(4, 50, 0), more_devices_available=False)
    assert judgement.verdict is StepVerdict.NEXT_STEP
    assert judgement.success_rate is None


def evidence(kind: EvidenceKind, on: date, model_id: int, source: EvidenceSource) -> Evidence:
    return Evidence("00DB123456780001", kind, on, source, model_id=model_id)


IMPORTED = EvidenceSource.IMPORTED
RECORDED = EvidenceSource.RECORDED
TO_TCOS = EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS
TO_ECOS = EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS
SRV = EvidenceKind.SRV_6_23_SUCCESS


def test_gate_without_evidence() -> None:
    decision = bulk_gate(1, [], [])
    assert not decision.open
    assert decision.missing is not None
    assert "certificate replacement" in decision.missing


def test_gate_replacement_only() -> None:
    decision = bulk_gate(1, [], [evidence(TO_TCOS, date(2022, 3, 1), 1, IMPORTED)])
    assert not decision.open
    assert decision.missing is not None
    assert "SRV 6.23" in decision.missing
    assert "2022-03-01" in decision.missing


@pytest.mark.parametrize("kind", [TO_TCOS, TO_ECOS])
@pytest.mark.parametrize("source", [IMPORTED, RECORDED])
def test_gate_opens_each_replacement(kind: EvidenceKind, source: EvidenceSource) -> None:
    items = [
        evidence(kind, date(2023, 7, 1), 1, source),
        evidence(SRV, date(2023, 7, 5), 1, IMPORTED),
    ]
    decision = bulk_gate(1, [], items)
    assert decision.open
    assert decision.srv_6_23_on == date(2023, 7, 5)


def test_gate_srv_from_upgrade_target() -> None:
    items = [
        evidence(TO_ECOS, date(2023, 7, 1), 1, RECORDED),
        evidence(SRV, date(2023, 7, 2), 2, IMPORTED),
    ]
    assert bulk_gate(1, [2], items).open


def test_gate_srv_from_other_model() -> None:
    items = [
        evidence(TO_ECOS, date(2023, 7, 1), 1, RECORDED),
        evidence(SRV, date(2023, 7, 2), 3, IMPORTED),
    ]
    assert not bulk_gate(1, [2], items).open


def test_gate_srv_before_replacement() -> None:
    items = [
        evidence(SRV, date(2023, 6, 1), 1, IMPORTED),
        evidence(TO_ECOS, date(2023, 7, 1), 1, RECORDED),
    ]
    assert not bulk_gate(1, [], items).open


def test_gate_srv_same_day_counts() -> None:
    items = [
        evidence(TO_TCOS, date(2023, 7, 1), 1, IMPORTED),
        evidence(SRV, date(2023, 7, 1), 1, RECORDED),
    ]
    assert bulk_gate(1, [], items).open


def test_gate_replacement_on_target_not_enough() -> None:
    items = [
        evidence(TO_ECOS, date(2023, 7, 1), 2, RECORDED),
        evidence(SRV, date(2023, 7, 2), 2, IMPORTED),
    ]
    assert not bulk_gate(1, [2], items).open


def test_after_proving_states() -> None:
    closed = bulk_gate(1, [], [])
    state, reason = after_proving(closed)
    assert state is ModelState.AWAITING_EVIDENCE
    assert reason.startswith("waiting for")
    opened = bulk_gate(
        1,
        [],
        [
            evidence(TO_TCOS, date(2023, 7, 1), 1, IMPORTED),
            evidence(SRV, date(2023, 7, 1), 1, IMPORTED),
        ],
    )
    assert after_proving(opened)[0] is ModelState.BULK


def test_suspension_needs_minimum() -> None:
    assert automatic_suspension(SUSPENSION, [False] * 49) is None


def test_suspension_above_rate() -> None:
    outcomes = [False] * 6 + [True] * 44
    decision = automatic_suspension(SUSPENSION, outcomes)
    assert decision is not None
    assert decision.failed == 6
    assert decision.considered == 50
    assert "6 of the last 50" in decision.reason()


def test_suspension_at_rate_not_above() -> None:
    assert automatic_suspension(SUSPENSION, [False] * 5 + [True] * 45) is None


def test_suspension_window_newest_only() -> None:
    # 200 newest succeed; older failures fall out of the window.
    outcomes = [True] * 200 + [False] * 500
    assert automatic_suspension(SUSPENSION, outcomes) is None
    recent_failures = [False] * 21 + [True] * 179 + [True] * 500
    assert automatic_suspension(SUSPENSION, recent_failures) is not None


def test_every_error_kind_decision() -> None:
    strategy = load_error_strategy()
    failed_on = date(2023, 7, 1)
    for code, kind in strategy.kinds.items():
        for number in range(1, kind.max_attempts):
            decision = strategy.decide(code, number, failed_on)
            assert decision.retry is kind.retried, code
            if kind.retried:
                assert decision.retry_on is not None, code
                assert (decision.retry_on - failed_on).days == kind.retry_wait_days, code
        final = strategy.decide(code, kind.max_attempts, failed_on)
        assert final.failed_migration, code
        assert final.retry_on is None, code
