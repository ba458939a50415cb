"""The daily loop of a migration run over simulated days.

Each day: drive attempts left unfinished by an interrupted run, evaluate stale eligibility,
start proving for NEW models, select devices, then start and drive them in chunks, evaluate
the models, and record the day. Every chunk's start and every step's results are committed
in their own transactions, so a run killed at any moment resumes where it stopped.

Retries count against the daily capacity, because the capacity stands for what the service
providers can handle in a day, and a retry costs them as much as a first attempt. Retries
due are taken first: they were selected on an earlier day already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine

from ecos_migration.clock import FixedClock
from ecos_migration.config import MAX_PROVING_DEVICES, Settings
from ecos_migration.domain.device import Credential, MigrationState
from ecos_migration.domain.error_strategy import ErrorStrategy, Step
from ecos_migration.domain.models import ModelState
from ecos_migration.engine.models import ModelLife
from ecos_migration.engine.steps import Providers, StepDriver, StepTally
from ecos_migration.errors import StateError
from ecos_migration.store.attempts import (
    Candidate,
    Work,
    attempt_id,
    day_counts,
    due_retries,
    eligible_devices,
    proving_devices_started,
    remediated_by_model_change,
    set_migration_state,
    started_on,
    unfinished_attempts,
)
from ecos_migration.store.eligibility import refresh_devices, refresh_stale
from ecos_migration.store.events import DeviceEvent, append_device_events
from ecos_migration.store.models import ModelRecord, all_models
from ecos_migration.store.runs import (
    DaySummary,
    eligible_and_remaining,
    record_day,
    set_current_day,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CHUNK_SIZE = 2000


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield ``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def days_between(first: date, last: date) -> list[date]:
    """Return every day from ``first`` to ``last`` inclusive."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class _Pick:
    candidate: Candidate
    model: ModelRecord
    # Whether the pick is a new proving device of its model (retries are not).
    new_proving: bool = False


class MigrationEngine:
    """Runs simulated days against the providers, recording everything in the store."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        strategy: ErrorStrategy,
        providers: Providers,
        clock: FixedClock,
        *,
        daily_capacity: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        before_chunk: Callable[[date, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.policy = settings.eligibility.policy()
        self.clock = clock
        self.capacity = daily_capacity or settings.capacity.daily
        self.chunk_size = chunk_size
        self.life = ModelLife(settings, clock)
        self.driver = StepDriver(engine, providers, strategy, self.policy, clock)
        # Called with the day and the chunk's index before each chunk starts. Tests use it to
        # change the store at a chosen moment, as an operator would.
        self.before_chunk = before_chunk

    def run_day(self, day: date) -> DaySummary:
        """Run one simulated day and record it."""
        self.clock.advance_to(day)
        tally = StepTally()
        with self.engine.begin() as connection:
            set_current_day(connection, day)
        for unfinished in chunks(self._unfinished(), self.chunk_size):
            self.driver.drive(unfinished, tally)
        with self.engine.begin() as connection:
            self._reopen_remediated(connection, day)
            refresh_stale(connection, day, self.policy)
            self.life.start_new_models(connection)
        with self.engine.connect() as connection:
            picks = self._select(connection, day)
        for index, chunk in enumerate(chunks(picks, self.chunk_size)):
            if self.before_chunk is not None:
                self.before_chunk(day, index)
            # Starting a chunk and driving it share one transaction: a crash before its
            # commit leaves the devices unstarted, and the resumed day selects them again
            # with the same attempt ids.
            with self.engine.begin() as connection:
                works = self._start(connection, chunk, day)
                self.driver.drive_in(connection, works, tally)
        with self.engine.begin() as connection:
            self.life.evaluate(connection)
            counts = day_counts(connection, day)
            eligible, remaining = eligible_and_remaining(connection)
            summary = DaySummary(
                day=day,
                started=counts["started"],
                migrated=counts["migrated"],
                failed=counts["failed"],
                retried=counts["retried"],
                in_scope_remaining=remaining,
                eligible=eligible,
            )
            record_day(connection, summary, self.clock.now())
        logger.info("Completed a simulated day.", extra={"day": day.isoformat(), **counts})
        return summary

    def _reopen_remediated(self, connection: Connection, day: date) -> None:
        """Make devices whose firmware changed after a failed attempt selectable again."""
        reopened = remediated_by_model_change(connection)
        if not reopened:
            return
        device_ids = [device_id for device_id, _ in reopened]
        set_migration_state(connection, device_ids, MigrationState.NOT_STARTED)
        append_device_events(
            connection,
            [
                DeviceEvent(
                    device_id,
                    day,
                    "REMEDIATED",
                    field="migration_state",
                    old_value=state.value,
                    new_value=MigrationState.NOT_STARTED.value,
                    actor="engine",
                    reason="the Device Model changed after the failed attempt",
                )
                for device_id, state in reopened
            ],
            self.clock.now(),
        )
        refresh_devices(connection, device_ids, day, self.policy)

    def _unfinished(self) -> list[Work]:
        with self.engine.connect() as connection:
            return unfinished_attempts(connection)

    def _select(self, connection: Connection, day: date) -> list[_Pick]:
        """Select today's retries, proving devices and bulk devices, up to the capacity."""
        remaining = self.capacity - started_on(connection, day)
        models = {m.id: m for m in all_models(connection)}
        retries = [_Pick(c, models[c.model_id]) for c in due_retries(connection, day, remaining)]
        remaining -= len(retries)
        fresh: list[_Pick] = []
        for model in models.values():
            if model.state is not ModelState.PROVING:
                continue
            quota = self.life.quota(connection, model)
            for candidate in eligible_devices(connection, [model.id], quota):
                fresh.append(
                    _Pick(
                        Candidate(
                            candidate.device_id,
                            model.id,
                            candidate.selection_key,
                            candidate.number,
                            model.proving_step or 0,
                            candidate.credential,
                        ),
                        model,
                        new_proving=True,
                    )
                )
        bulk_ids = [m.id for m in models.values() if m.state is ModelState.BULK]
        fresh.extend(
            _Pick(c, models[c.model_id]) for c in eligible_devices(connection, bulk_ids, remaining)
        )
        fresh.sort(key=lambda pick: pick.candidate.selection_key)
        return retries + fresh[: max(0, remaining)]

    def _start(self, connection: Connection, picks: Sequence[_Pick], day: date) -> list[Work]:
        """Return new attempts for the picks whose model may still start devices.

        The attempts are written with the chunk's outcome, in the same transaction.
        """
        works: list[Work] = []
        states = {m.id: m for m in all_models(connection)}
        new_proving: dict[int, int] = {}
        for pick in picks:
            candidate = pick.candidate
            model = states[candidate.model_id]
            # All stop: a model suspended since selection starts nothing more.
            if model.state not in (ModelState.PROVING, ModelState.BULK):
                continue
            if pick.new_proving:
                if model.state is not ModelState.PROVING:
                    continue
                new_proving[model.id] = new_proving.get(model.id, 0) + 1
            resume_at_reconcile = candidate.credential == Credential.ECOS.value
            works.append(
                Work(
                    attempt_id=attempt_id(candidate.device_id, candidate.number),
                    device_id=candidate.device_id,
                    model_id=model.id,
                    model=str(model.key),
                    number=candidate.number,
                    proving_step=candidate.proving_step,
                    step=Step.RECONCILE.value if resume_at_reconcile else Step.INSTRUCT.value,
                    new=True,
                    started_on=day,
                )
            )
        for model_id, count in new_proving.items():
            already = proving_devices_started(connection, model_id)
            if already + count > MAX_PROVING_DEVICES:
                raise StateError(
                    f"Device Model {states[model_id].key} would start proving device "
                    f"{already + count}; at most {MAX_PROVING_DEVICES} are allowed"
                )
        return works
