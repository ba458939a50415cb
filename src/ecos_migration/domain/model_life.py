"""The life of a Device Model: proving steps, the bulk gate and automatic suspension.

Every rule here is a pure function of values the engine loads from the store, so each can be
tested without a database:

- ``proving_quota`` says how many new proving devices a model may start now, and never lets
  the total pass ``MAX_PROVING_DEVICES``;
- ``judge_proving_step`` says whether the current step waits, passes or fails;
- ``bulk_gate`` says whether bulk migration may start, and what evidence is missing;
- ``after_proving`` picks BULK or AWAITING_EVIDENCE once the proving steps are done;
- ``automatic_suspension`` says whether recent failures suspend the model.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ecos_migration.config import MAX_PROVING_DEVICES, ProvingSettings, SuspensionSettings
from ecos_migration.domain.evidence import Evidence, EvidenceKind
from ecos_migration.domain.models import ModelState


@dataclass(frozen=True, slots=True)
class ProvingCounts:
    """What the store knows about the proving devices of one model.

    ``started_total`` counts distinct devices started as proving devices in any step;
    ``started_in_step`` those of the current step; ``succeeded`` and ``failed`` those of the
    current step with an outcome (migrated, or a Failed Migration).
    """

    step: int
    started_total: int
    started_in_step: int
    succeeded: int
    failed: int

    @property
    def with_outcome(self) -> int:
        """Devices of the current step that have an outcome."""
        return self.succeeded + self.failed


def proving_quota(plan: ProvingSettings, counts: ProvingCounts) -> int:
    """Return how many new devices the model may start in its current proving step now.

    The result never lets ``started_total`` pass ``MAX_PROVING_DEVICES``, whatever the plan
    says, so a plan that slipped past validation still cannot start a 301st device.
    """
    if counts.step >= len(plan.steps):
        return 0
    left_in_step = plan.steps[counts.step] - counts.started_in_step
    left_in_cap = MAX_PROVING_DEVICES - counts.started_total
    return max(0, min(left_in_step, left_in_cap))


class StepVerdict(enum.StrEnum):
    """The verdict on a model's current proving step."""

    WAIT = "WAIT"
    NEXT_STEP = "NEXT_STEP"
    PROVING_DONE = "PROVING_DONE"
    SUSPEND = "SUSPEND"


@dataclass(frozen=True, slots=True)
class StepJudgement:
    """The verdict on a proving step, with the success rate it reached when it was judged."""

    verdict: StepVerdict
    success_rate: float | None = None


def judge_proving_step(
    plan: ProvingSettings, counts: ProvingCounts, *, more_devices_available: bool
) -> StepJudgement:
    """Judge the model's current proving step.

    The step waits while any of its started devices has no outcome, and while it is not full
    and the model still has eligible devices to fill it. A step that cannot be filled because
    the model has no eligible device left is judged on the devices it has; an empty step passes.
    Below ``plan.success_rate`` the model is suspended for triage.
    """
    if counts.with_outcome < counts.started_in_step:
        return StepJudgement(StepVerdict.WAIT)
    if proving_quota(plan, counts) > 0 and more_devices_available:
        return StepJudgement(StepVerdict.WAIT)
    rate = counts.succeeded / counts.with_outcome if counts.with_outcome else None
    if rate is not None and rate < plan.success_rate:
        return StepJudgement(StepVerdict.SUSPEND, rate)
    last_step = counts.step + 1 >= len(plan.steps)
    cap_used = counts.started_total >= MAX_PROVING_DEVICES
    if last_step or cap_used:
        return StepJudgement(StepVerdict.PROVING_DONE, rate)
    return StepJudgement(StepVerdict.NEXT_STEP, rate)


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether bulk migration of a model may start, and if not, what is missing."""

    open: bool
    replacement_on: date | None
    srv_6_23_on: date | None
    missing: str | None


def bulk_gate(
    model_id: int, upgrade_target_ids: Iterable[int], evidence: Sequence[Evidence]
) -> GateDecision:
    """Decide the bulk gate of model ``model_id`` from its evidence and its upgrade targets'.

    It opens when (1) a certificate replacement (TCoS to ECoS, or TCoS to TCoS) succeeded on a
    device of the model and (2) on or after the day of such a replacement an SRV 6.23 request
    succeeded on a device of the model or of a model it can be upgraded to. Evidence is dated
    by day, so an SRV 6.23 on the same day as the replacement counts. Imported and recorded
    evidence count alike.
    """
    srv_models = {model_id, *upgrade_target_ids}
    replacements = sorted(
        item.occurred_on
        for item in evidence
        if item.model_id == model_id and item.kind.is_certificate_replacement
    )
    if not replacements:
        return GateDecision(
            open=False,
            replacement_on=None,
            srv_6_23_on=None,
            missing="a successful certificate replacement on a device of this model",
        )
    first_replacement = replacements[0]
    srv_dates = sorted(
        item.occurred_on
        for item in evidence
        if item.kind is EvidenceKind.SRV_6_23_SUCCESS
        and item.model_id in srv_models
        and item.occurred_on >= first_replacement
    )
    if not srv_dates:
        return GateDecision(
            open=False,
            replacement_on=first_replacement,
            srv_6_23_on=None,
            missing=(
                "a successful SRV 6.23 request on or after "
                f"{first_replacement.isoformat()} on a device of this model "
                "or of a model it can be upgraded to"
            ),
        )
    return GateDecision(
        open=True, replacement_on=first_replacement, srv_6_23_on=srv_dates[0], missing=None
    )


def after_proving(gate: GateDecision) -> tuple[ModelState, str]:
    """Return the state (and its reason) of a model whose proving steps are done."""
    if gate.open:
        return ModelState.BULK, "proving passed and the bulk gate is open"
    return ModelState.AWAITING_EVIDENCE, f"waiting for {gate.missing}"


@dataclass(frozen=True, slots=True)
class SuspensionDecision:
    """A decision to suspend a model automatically, with the figures behind it."""

    failed: int
    considered: int

    @property
    def failure_rate(self) -> float:
        """Share of failed attempts among those considered."""
        return self.failed / self.considered

    def reason(self) -> str:
        """One sentence for the model event and the incident."""
        return (
            f"{self.failed} of the last {self.considered} attempts failed ({self.failure_rate:.1%})"
        )


def automatic_suspension(
    policy: SuspensionSettings, recent_outcomes: Sequence[bool]
) -> SuspensionDecision | None:
    """Decide whether a model is suspended for its failure rate.

    ``recent_outcomes`` holds the outcome of the model's attempts, newest first, ``True`` for
    a success. Only the newest ``policy.window_attempts`` count, and the rule applies once at
    least ``policy.min_attempts`` outcomes exist. A rate above ``policy.failure_rate`` suspends.
    """
    window = recent_outcomes[: policy.window_attempts]
    if len(window) < policy.min_attempts:
        return None
    failed = sum(1 for succeeded in window if not succeeded)
    if failed / len(window) > policy.failure_rate:
        return SuspensionDecision(failed=failed, considered=len(window))
    return None
