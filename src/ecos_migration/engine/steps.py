"""Driving a chunk of attempts through the four steps, one transaction per chunk.

Each step sends the whole chunk to a provider, and its results are applied to the chunk in
memory. When the chunk has gone as far as it can today, its outcome is written once: the
attempt rows, one update of each device (migration state, credential and eligibility), the
device events and the recorded evidence. A crash before the commit loses nothing: the
attempts keep the step recorded before the chunk, and the replay sends the same attempt ids,
for which the providers return the results they gave before.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, Engine

from ecos_migration.clock import Clock
from ecos_migration.domain.device import Credential, MigrationState
from ecos_migration.domain.eligibility import (
    DeviceEligibility,
    DeviceFacts,
    EligibilityPolicy,
    evaluate_device,
)
from ecos_migration.domain.error_strategy import ErrorStrategy, Step
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.providers.interfaces import (
    CredentialReader,
    EcosServiceProvider,
    Instruction,
    StepResult,
    TcosServiceProvider,
)
from ecos_migration.store.attempts import AttemptStatus, Work, write_attempts
from ecos_migration.store.eligibility import DeviceOutcome, device_facts, write_device_outcomes
from ecos_migration.store.events import DeviceEvent, append_device_events
from ecos_migration.store.evidence import add_evidence

logger = logging.getLogger(__name__)

_NEXT_STEP = {
    Step.INSTRUCT.value: Step.REVIEW.value,
    Step.REVIEW.value: Step.REPLACE.value,
    Step.REPLACE.value: Step.RECONCILE.value,
}

NO_RESPONSE = "NO_RESPONSE"

# Evaluations kept between chunks: a chunk's devices share few combinations of facts.
_CACHE_LIMIT = 50_000


@dataclass
class Providers:
    """The parties the engine works through."""

    tcos: TcosServiceProvider
    ecos: EcosServiceProvider
    reader: CredentialReader


@dataclass
class StepTally:
    """The outcome of driving a chunk of attempts through its steps."""

    migrated: int = 0
    failed_migrations: int = 0
    retries_scheduled: int = 0


def _instructions(works: Sequence[Work]) -> list[Instruction]:
    return [Instruction(w.attempt_id, w.device_id, w.model) for w in works]


@dataclass
class _ChunkChanges:
    """Changes made by driving one chunk, kept in memory until the chunk is written."""

    on: date
    events: list[DeviceEvent] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    states: dict[str, MigrationState] = field(default_factory=dict)
    credentials: dict[str, Credential] = field(default_factory=dict)


class StepDriver:
    """Drives attempts through the steps and records every transition as a device event."""

    def __init__(
        self,
        engine: Engine,
        providers: Providers,
        strategy: ErrorStrategy,
        policy: EligibilityPolicy,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.providers = providers
        self.strategy = strategy
        self.policy = policy
        self.clock = clock
        self._evaluated: dict[tuple[DeviceFacts, date], DeviceEligibility] = {}

    def drive(self, works: Sequence[Work], tally: StepTally) -> None:
        """Take every attempt in ``works`` as far as it goes today, in one transaction."""
        with self.engine.begin() as connection:
            self.drive_in(connection, works, tally)

    def drive_in(self, connection: Connection, works: Sequence[Work], tally: StepTally) -> None:
        """Take every attempt in ``works`` as far as it goes today, and write the outcome in
        the caller's transaction.

        Works marked ``new`` are attempts started by this chunk: their rows are inserted and
        their devices recorded IN_PROGRESS here.
        """
        if not works:
            return
        changes = _ChunkChanges(self.clock.today())
        for work in works:
            if work.new:
                changes.states[work.device_id] = MigrationState.IN_PROGRESS
                changes.events.append(self._started_event(work, changes.on))
        for step, call in (
            (Step.INSTRUCT.value, self.providers.tcos.instruct),
            (Step.REVIEW.value, self.providers.tcos.review),
            (Step.REPLACE.value, self.providers.tcos.replace),
        ):
            batch = [
                w for w in works if w.step == step and w.status == AttemptStatus.IN_FLIGHT.value
            ]
            if batch:
                self._apply_step(step, batch, call(_instructions(batch)), changes, tally)
        unknown = [w for w in works if w.status == AttemptStatus.UNKNOWN.value]
        if unknown:
            self._read_credentials(unknown, changes, tally)
        to_reconcile = [
            w
            for w in works
            if w.step == Step.RECONCILE.value and w.status == AttemptStatus.IN_FLIGHT.value
        ]
        if to_reconcile:
            self._reconcile(
                to_reconcile,
                self.providers.ecos.reconcile(_instructions(to_reconcile)),
                changes,
                tally,
            )
        self._write(connection, works, changes)

    def _write(self, connection: Connection, works: Sequence[Work], changes: _ChunkChanges) -> None:
        """Write the chunk's attempts, devices, events and evidence."""
        write_attempts(connection, works)
        facts = device_facts(connection, [w.device_id for w in works])
        outcomes: list[DeviceOutcome] = []
        for device_id, before in facts.items():
            after = dataclasses.replace(
                before,
                migration_state=changes.states.get(device_id, before.migration_state),
                credential=changes.credentials.get(device_id, before.credential),
            )
            outcomes.append(
                DeviceOutcome(
                    device_id,
                    after.migration_state,
                    after.credential,
                    self._evaluate(after, changes.on),
                )
            )
        write_device_outcomes(connection, outcomes, changes.on)
        append_device_events(connection, changes.events, self.clock.now())
        add_evidence(connection, changes.evidence)

    def _evaluate(self, facts: DeviceFacts, on: date) -> DeviceEligibility:
        key = (facts, on)
        found = self._evaluated.get(key)
        if found is None:
            if len(self._evaluated) >= _CACHE_LIMIT:
                self._evaluated.clear()
            found = self._evaluated[key] = evaluate_device(facts, on, self.policy)
        return found

    def _started_event(self, work: Work, on: date) -> DeviceEvent:
        return DeviceEvent(
            work.device_id,
            on,
            "MIGRATION_STARTED",
            field="migration_state",
            new_value=MigrationState.IN_PROGRESS.value,
            attempt_id=work.attempt_id,
            actor="engine",
            reason=(
                f"proving step {work.proving_step + 1}"
                if work.proving_step is not None
                else "bulk migration"
            ),
        )

    def _fail(self, work: Work, code: str, changes: _ChunkChanges, tally: StepTally) -> None:
        """Record a failed attempt and decide whether it is retried or final."""
        on = changes.on
        decision = self.strategy.decide(code, work.number, on)
        kind = self.strategy.kind(code)
        changes.events.append(
            DeviceEvent(
                work.device_id,
                on,
                "STEP_FAILED",
                field="step",
                new_value=work.step,
                attempt_id=work.attempt_id,
                error_code=code,
                actor="engine",
                reason=kind.description,
            )
        )
        work.status = AttemptStatus.FAILED.value
        work.error_code = code
        work.finished_on = on
        work.retry_on = decision.retry_on
        if decision.retry:
            tally.retries_scheduled += 1
            return
        tally.failed_migrations += 1
        changes.states[work.device_id] = MigrationState.AWAITING_REMEDIATION
        changes.events.append(
            DeviceEvent(
                work.device_id,
                on,
                "FAILED_MIGRATION",
                field="migration_state",
                old_value=MigrationState.IN_PROGRESS.value,
                new_value=MigrationState.AWAITING_REMEDIATION.value,
                attempt_id=work.attempt_id,
                error_code=code,
                actor=kind.actor.value,
                reason=kind.action,
            )
        )

    def _apply_step(
        self,
        step: str,
        batch: Sequence[Work],
        results: Sequence[StepResult],
        changes: _ChunkChanges,
        tally: StepTally,
    ) -> None:
        on = changes.on
        by_id = {r.attempt_id: r for r in results}
        for work in batch:
            result = by_id[work.attempt_id]
            if result.ok:
                work.step = _NEXT_STEP[step]
                if step == Step.REPLACE.value:
                    changes.credentials[work.device_id] = Credential.ECOS
                    changes.events.append(self._replaced_event(work, on))
                    self._record_evidence(work, changes)
                continue
            assert result.error_code is not None
            if step == Step.REPLACE.value and result.error_code == NO_RESPONSE:
                # The answer was lost: nobody knows which certificate the device holds until
                # it is read, which happens before anything is retried.
                work.status = AttemptStatus.UNKNOWN.value
                changes.credentials[work.device_id] = Credential.UNKNOWN
                changes.events.append(
                    DeviceEvent(
                        work.device_id,
                        on,
                        "STEP_FAILED",
                        field="credential",
                        old_value=Credential.TCOS.value,
                        new_value=Credential.UNKNOWN.value,
                        attempt_id=work.attempt_id,
                        error_code=NO_RESPONSE,
                        actor="engine",
                        reason=self.strategy.kind(NO_RESPONSE).description,
                    )
                )
                continue
            self._fail(work, result.error_code, changes, tally)

    def _replaced_event(self, work: Work, on: date) -> DeviceEvent:
        return DeviceEvent(
            work.device_id,
            on,
            "CERTIFICATE_REPLACED",
            field="credential",
            old_value=Credential.TCOS.value,
            new_value=Credential.ECOS.value,
            attempt_id=work.attempt_id,
            actor="engine",
        )

    def _record_evidence(self, work: Work, changes: _ChunkChanges) -> None:
        """Record the replacement as evidence for the model, if the device is proving it.

        Proving devices are what the bulk gate waits for. A device migrated in bulk adds
        nothing to a gate already open, and its replacement stays in its events.
        """
        if work.proving_step is not None:
            changes.evidence.append(self._replacement_evidence(work, changes.on))

    def _replacement_evidence(self, work: Work, on: date) -> Evidence:
        return Evidence(
            device_id=work.device_id,
            kind=EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS,
            occurred_on=on,
            source=EvidenceSource.RECORDED,
            model_id=work.model_id,
            reference=work.attempt_id,
        )

    def _read_credentials(
        self, batch: Sequence[Work], changes: _ChunkChanges, tally: StepTally
    ) -> None:
        on = changes.on
        read = self.providers.reader.read([w.device_id for w in batch])
        for work in batch:
            credential = read.get(work.device_id, Credential.UNKNOWN)
            changes.events.append(
                DeviceEvent(
                    work.device_id,
                    on,
                    "CREDENTIAL_READ",
                    field="credential",
                    old_value=Credential.UNKNOWN.value,
                    new_value=credential.value,
                    attempt_id=work.attempt_id,
                    actor="engine",
                )
            )
            if credential is Credential.UNKNOWN:
                # Still unknown: leave the attempt UNKNOWN so the next run reads it again.
                continue
            changes.credentials[work.device_id] = credential
            if credential is Credential.ECOS:
                work.step = Step.RECONCILE.value
                work.status = AttemptStatus.IN_FLIGHT.value
                self._record_evidence(work, changes)
                continue
            self._fail(work, NO_RESPONSE, changes, tally)

    def _reconcile(
        self,
        batch: Sequence[Work],
        results: Sequence[StepResult],
        changes: _ChunkChanges,
        tally: StepTally,
    ) -> None:
        on = changes.on
        by_id = {r.attempt_id: r for r in results}
        migrated = 0
        for work in batch:
            result = by_id[work.attempt_id]
            if result.ok:
                work.status = AttemptStatus.SUCCEEDED.value
                work.finished_on = on
                tally.migrated += 1
                migrated += 1
                # From reconciliation on, the device's credential is ECOS for good.
                changes.states[work.device_id] = MigrationState.MIGRATED
                changes.credentials[work.device_id] = Credential.ECOS
                changes.events.append(
                    DeviceEvent(
                        work.device_id,
                        on,
                        "MIGRATED",
                        field="migration_state",
                        old_value=MigrationState.IN_PROGRESS.value,
                        new_value=MigrationState.MIGRATED.value,
                        attempt_id=work.attempt_id,
                        actor="engine",
                    )
                )
                continue
            assert result.error_code is not None
            self._fail(work, result.error_code, changes, tally)
        if migrated:
            logger.debug("Migrated devices.", extra={"count": migrated})
