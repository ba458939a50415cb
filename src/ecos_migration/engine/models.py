"""Applying the Device Model life rules of ``domain.model_life`` to the models in the store."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Connection

from ecos_migration.clock import Clock
from ecos_migration.config import Settings
from ecos_migration.domain.model_life import (
    ProvingCounts,
    StepVerdict,
    after_proving,
    automatic_suspension,
    bulk_gate,
    judge_proving_step,
    proving_quota,
)
from ecos_migration.domain.models import ModelState, suspended_state
from ecos_migration.domain.upgrades import upgrade_targets
from ecos_migration.store.attempts import (
    has_eligible_device,
    models_with_eligible_devices,
    models_with_outcomes_on,
    proving_tally,
    recent_outcomes,
)
from ecos_migration.store.evidence import evidence_for_models
from ecos_migration.store.incidents import open_incident
from ecos_migration.store.models import (
    ModelRecord,
    all_models,
    change_model_state,
    get_model_by_id,
)
from ecos_migration.store.proving import set_proving_step
from ecos_migration.store.upgrades import allowed_upgrades

logger = logging.getLogger(__name__)

ACTOR = "engine"

# States in which a model starts devices, and so may be suspended for its failure rate.
_WATCHED_STATES = frozenset({ModelState.PROVING, ModelState.AWAITING_EVIDENCE, ModelState.BULK})


class ModelLife:
    """Coordinator that moves models between states by the domain rules, with no rule of its own."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    def proving_counts(self, connection: Connection, model: ModelRecord) -> ProvingCounts:
        """Return the proving figures of a model's current step."""
        step = model.proving_step or 0
        tally = proving_tally(connection, model.id, step)
        return ProvingCounts(
            step=step,
            started_total=tally.started_total,
            started_in_step=tally.started_in_step,
            succeeded=tally.migrated,
            failed=tally.failed,
        )

    def quota(self, connection: Connection, model: ModelRecord) -> int:
        """Return how many new proving devices the model may start now."""
        return proving_quota(self.settings.proving, self.proving_counts(connection, model))

    def start_new_models(self, connection: Connection) -> int:
        """Move every NEW model that has an eligible device into its first proving step."""
        started = 0
        for model_id in models_with_eligible_devices(connection, ModelState.NEW):
            model = get_model_by_id(connection, model_id)
            change_model_state(
                connection,
                model,
                ModelState.PROVING,
                on=self.clock.today(),
                now=self.clock.now(),
                kind="PROVING_STARTED",
                actor=ACTOR,
                reason="the model has eligible devices; proving starts with step 1",
            )
            set_proving_step(
                connection,
                get_model_by_id(connection, model_id),
                0,
                on=self.clock.today(),
                now=self.clock.now(),
                reason=f"proving step 1 of {len(self.settings.proving.steps)} started",
            )
            started += 1
        return started

    def evaluate(self, connection: Connection) -> None:
        """Judge proving steps and the bulk gate for every model, and the failure rate of
        every model whose attempts had an outcome today.

        The models with an outcome today are read from the store, so a day resumed after a
        crash checks the models whose attempts finished before the crash too.
        """
        for model in all_models(connection):
            if model.state is ModelState.PROVING:
                self._judge_proving(connection, model)
            elif model.state is ModelState.AWAITING_EVIDENCE:
                self._check_gate(connection, model)
        # Only a model with a new outcome can have crossed the threshold. A model resumed by
        # an operator keeps its recent failures, and is judged again only on new outcomes.
        candidates = [m for m in all_models(connection) if m.state in _WATCHED_STATES]
        watched = models_with_outcomes_on(
            connection, self.clock.today(), [m.id for m in candidates]
        )
        for model in candidates:
            if model.id in watched:
                self._check_failure_rate(connection, model)

    def _gate_state(self, connection: Connection, model: ModelRecord) -> tuple[ModelState, str]:
        models = all_models(connection)
        ids = {m.key: m.id for m in models}
        targets = [
            ids[key]
            for key in upgrade_targets(
                model.key, [m.key for m in models], allowed_upgrades(connection)
            )
        ]
        # Evidence dated after the day being run has not happened yet, so it cannot count.
        today = self.clock.today()
        evidence = [
            item
            for item in evidence_for_models(connection, [model.id, *targets])
            if item.occurred_on <= today
        ]
        return after_proving(bulk_gate(model.id, targets, evidence))

    def _judge_proving(self, connection: Connection, model: ModelRecord) -> None:
        counts = self.proving_counts(connection, model)
        judgement = judge_proving_step(
            self.settings.proving,
            counts,
            more_devices_available=has_eligible_device(connection, model.id),
        )
        step_text = f"proving step {counts.step + 1}"
        if judgement.verdict is StepVerdict.WAIT:
            return
        if judgement.verdict is StepVerdict.NEXT_STEP:
            set_proving_step(
                connection,
                model,
                counts.step + 1,
                on=self.clock.today(),
                now=self.clock.now(),
                reason=f"{step_text} passed; proving step {counts.step + 2} started",
            )
            return
        if judgement.verdict is StepVerdict.SUSPEND:
            rate = judgement.success_rate or 0.0
            self._suspend(
                connection,
                model,
                kind="PROVING_STEP_FAILED",
                reason=(
                    f"{step_text}: {counts.succeeded} of {counts.with_outcome} devices migrated "
                    f"({rate:.1%}), below the required "
                    f"{self.settings.proving.success_rate:.0%}"
                ),
                category=self.settings.suspension.proving_incident_category,
            )
            return
        new_state, reason = self._gate_state(connection, model)
        change_model_state(
            connection,
            model,
            new_state,
            on=self.clock.today(),
            now=self.clock.now(),
            kind="PROVING_DONE",
            actor=ACTOR,
            reason=reason,
        )

    def _check_gate(self, connection: Connection, model: ModelRecord) -> None:
        new_state, reason = self._gate_state(connection, model)
        if new_state is ModelState.BULK:
            change_model_state(
                connection,
                model,
                ModelState.BULK,
                on=self.clock.today(),
                now=self.clock.now(),
                kind="BULK_GATE_OPENED",
                actor=ACTOR,
                reason=reason,
            )

    def _check_failure_rate(self, connection: Connection, model: ModelRecord) -> None:
        policy = self.settings.suspension
        decision = automatic_suspension(
            policy, recent_outcomes(connection, model.id, policy.window_attempts)
        )
        if decision is None:
            return
        self._suspend(
            connection,
            model,
            kind="AUTOMATIC_SUSPENSION",
            reason=f"failure rate above {policy.failure_rate:.0%}: {decision.reason()}",
            category=policy.incident_category,
        )

    def _suspend(
        self, connection: Connection, model: ModelRecord, *, kind: str, reason: str, category: int
    ) -> None:
        change = suspended_state(model.state)
        if change is None:
            return
        new_state, resume_to = change
        today = self.clock.today()
        change_model_state(
            connection,
            model,
            new_state,
            on=today,
            now=self.clock.now(),
            kind=kind,
            actor=ACTOR,
            reason=reason,
            suspended_from=resume_to,
        )
        hours = self.settings.incidents.target_resolution_hours[category]
        incident_id = open_incident(
            connection,
            model_id=model.id,
            category=category,
            title=f"Device Model suspended: {reason}",
            opened_on=today,
            target_resolution_at=self.clock.now() + timedelta(hours=hours),
        )
        logger.warning(
            "Suspended Device Model %s and opened incident %d.",
            model.key,
            incident_id,
            extra={"model": str(model.key), "incident_id": incident_id, "reason": reason},
        )
