"""Driving a chunk of attempts through the four steps, one transaction per chunk.

Each step sends the whole chunk to a provider and records every answer; the chunk's steps
share one transaction. A crash before the commit loses nothing: the attempts keep the step
recorded before the chunk, and the replay sends the same attempt ids, for which the provider
returns the results it gave before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, Engine

from ecos_migration.clock import Clock
from ecos_migration.domain.device import Credential, MigrationState
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.error_strategy import ErrorStrategy, Step
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.providers.interfaces import (
    CredentialReader,
    EcosServiceProvider,
    Instruction,
    StepResult,
    TcosServiceProvider,
)
from ecos_migration.store.attempts import (
    AttemptStatus,
    Finish,
    Work,
    advance_attempts,
    finish_attempts,
    mark_migrated,
    set_credentials,
    set_migration_state,
)
from ecos_migration.store.eligibility import refresh_devices
from ecos_migration.store.events import DeviceEvent, append_device_events
from ecos_migration.store.evidence import add_evidence

logger = logging.getLogger(__name__)

_NEXT_STEP = {
    Step.INSTRUCT.value: Step.REVIEW.value,
    Step.REVIEW.value: Step.REPLACE.value,
    Step.REPLACE.value: Step.RECONCILE.value,
}

NO_RESPONSE = "NO_RESPONSE"


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
    finished_models: set[int] = field(default_factory=set)


def _instructions(works: Sequence[Work]) -> list[Instruction]:
    return [Instruction(w.attempt_id, w.device_id, w.model) for w in works]


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

    def drive(self, works: Sequence[Work], tally: StepTally) -> None:
        """Take every attempt in ``works`` as far as it goes today, in one transaction."""
        # One transaction for the chunk's steps: each step rewrites the same device, attempt
        # and index pages, so committing once writes them once. A crash before the commit
        # leaves the attempts at the step recorded before the chunk, and the replay gets the
        # providers' remembered answers by attempt id.
        with self.engine.begin() as connection:
            self.drive_in(connection, works, tally)

    def drive_in(self, connection: Connection, works: Sequence[Work], tally: StepTally) -> None:
        """Take every attempt in ``works`` as far as it goes today, in the caller's
        transaction."""
        for step, call in (
            (Step.INSTRUCT.value, self.providers.tcos.instruct),
            (Step.REVIEW.value, self.providers.tcos.review),
            (Step.REPLACE.value, self.providers.tcos.replace),
        ):
            batch = [
                w for w in works if w.step == step and w.status == AttemptStatus.IN_FLIGHT.value
            ]
            if batch:
                self._record(connection, step, batch, call(_instructions(batch)), tally)
        unknown = [w for w in works if w.status == AttemptStatus.UNKNOWN.value]
        if unknown:
            self._read_credentials(connection, unknown, tally)
        to_reconcile = [
            w
            for w in works
            if w.step == Step.RECONCILE.value and w.status == AttemptStatus.IN_FLIGHT.value
        ]
        if to_reconcile:
            self._reconcile(
                connection,
                to_reconcile,
                self.providers.ecos.reconcile(_instructions(to_reconcile)),
                tally,
            )

    def _fail(
        self, work: Work, code: str, on: date, events: list[DeviceEvent], tally: StepTally
    ) -> tuple[Finish, bool]:
        """Decide what follows a failed attempt; return its outcome and whether it is final."""
        decision = self.strategy.decide(code, work.number, on)
        kind = self.strategy.kind(code)
        events.append(
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
        tally.finished_models.add(work.model_id)
        if decision.retry:
            tally.retries_scheduled += 1
            return Finish(work.attempt_id, AttemptStatus.FAILED, code, decision.retry_on), False
        tally.failed_migrations += 1
        events.append(
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
        return Finish(work.attempt_id, AttemptStatus.FAILED, code, None), True

    def _record(
        self,
        connection: Connection,
        step: str,
        batch: Sequence[Work],
        results: Sequence[StepResult],
        tally: StepTally,
    ) -> None:
        on = self.clock.today()
        by_id = {r.attempt_id: r for r in results}
        events: list[DeviceEvent] = []
        finishes: list[Finish] = []
        failed_for_good: list[str] = []
        advanced: list[str] = []
        unknown: list[str] = []
        credentials: dict[str, Credential] = {}
        evidence: list[Evidence] = []
        for work in batch:
            result = by_id[work.attempt_id]
            if result.ok:
                work.step = _NEXT_STEP[step]
                advanced.append(work.attempt_id)
                if step == Step.REPLACE.value:
                    credentials[work.device_id] = Credential.ECOS
                    events.append(self._replaced_event(work, on))
                    evidence.append(self._replacement_evidence(work, on))
                continue
            assert result.error_code is not None
            if step == Step.REPLACE.value and result.error_code == NO_RESPONSE:
                # The answer was lost: nobody knows which certificate the device holds until
                # it is read, which happens before anything is retried.
                work.status = AttemptStatus.UNKNOWN.value
                unknown.append(work.attempt_id)
                credentials[work.device_id] = Credential.UNKNOWN
                events.append(
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
            finish, final = self._fail(work, result.error_code, on, events, tally)
            finishes.append(finish)
            if final:
                failed_for_good.append(work.device_id)
        advance_attempts(connection, advanced, _NEXT_STEP[step], AttemptStatus.IN_FLIGHT)
        advance_attempts(connection, unknown, step, AttemptStatus.UNKNOWN)
        finish_attempts(connection, finishes, on)
        set_credentials(connection, credentials)
        set_migration_state(connection, failed_for_good, MigrationState.AWAITING_REMEDIATION)
        add_evidence(connection, evidence)
        append_device_events(connection, events, self.clock.now())
        refresh_devices(connection, failed_for_good, on, self.policy)

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
        self, connection: Connection, batch: Sequence[Work], tally: StepTally
    ) -> None:
        on = self.clock.today()
        read = self.providers.reader.read([w.device_id for w in batch])
        events: list[DeviceEvent] = []
        finishes: list[Finish] = []
        failed_for_good: list[str] = []
        to_reconcile: list[str] = []
        credentials: dict[str, Credential] = {}
        evidence: list[Evidence] = []
        for work in batch:
            credential = read.get(work.device_id, Credential.UNKNOWN)
            events.append(
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
            credentials[work.device_id] = credential
            if credential is Credential.ECOS:
                work.step = Step.RECONCILE.value
                work.status = AttemptStatus.IN_FLIGHT.value
                to_reconcile.append(work.attempt_id)
                evidence.append(self._replacement_evidence(work, on))
                continue
            finish, final = self._fail(work, NO_RESPONSE, on, events, tally)
            finishes.append(finish)
            if final:
                failed_for_good.append(work.device_id)
        advance_attempts(connection, to_reconcile, Step.RECONCILE.value, AttemptStatus.IN_FLIGHT)
        finish_attempts(connection, finishes, on)
        set_credentials(connection, credentials)
        set_migration_state(connection, failed_for_good, MigrationState.AWAITING_REMEDIATION)
        add_evidence(connection, evidence)
        append_device_events(connection, events, self.clock.now())
        refresh_devices(connection, failed_for_good, on, self.policy)

    def _reconcile(
        self,
        connection: Connection,
        batch: Sequence[Work],
        results: Sequence[StepResult],
        tally: StepTally,
    ) -> None:
        on = self.clock.today()
        by_id = {r.attempt_id: r for r in results}
        events: list[DeviceEvent] = []
        finishes: list[Finish] = []
        migrated: list[str] = []
        failed_for_good: list[str] = []
        for work in batch:
            result = by_id[work.attempt_id]
            if result.ok:
                work.status = AttemptStatus.SUCCEEDED.value
                tally.migrated += 1
                tally.finished_models.add(work.model_id)
                migrated.append(work.device_id)
                finishes.append(Finish(work.attempt_id, AttemptStatus.SUCCEEDED, None, None))
                events.append(
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
            finish, final = self._fail(work, result.error_code, on, events, tally)
            finishes.append(finish)
            if final:
                failed_for_good.append(work.device_id)
        finish_attempts(connection, finishes, on)
        mark_migrated(connection, migrated)
        set_migration_state(connection, failed_for_good, MigrationState.AWAITING_REMEDIATION)
        append_device_events(connection, events, self.clock.now())
        refresh_devices(connection, [*migrated, *failed_for_good], on, self.policy)
        if migrated:
            logger.debug("Migrated devices.", extra={"count": len(migrated)})
