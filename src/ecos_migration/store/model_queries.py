"""Per-model counts for the ``models`` listing: devices, eligibility, attempts and evidence."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, distinct, func, select

from ecos_migration.domain.device import MigrationState
from ecos_migration.domain.eligibility import EligibilityPolicy, evaluate_device
from ecos_migration.domain.evidence import EvidenceKind
from ecos_migration.store.eligibility import (
    BATCH_SIZE,
    facts_from_row,
    facts_select,
    stale_condition,
)
from ecos_migration.store.schema import attempt, device, evidence


@dataclass
class ModelCounts:
    """Counts of one Device Model's devices. ``eligible`` ignores the model's own state."""

    devices: int = 0
    device_eligible: int = 0
    proving_devices: int = 0
    migrated: int = 0
    failed: int = 0
    evidence: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EvidenceKind, 0))


def model_counts(
    connection: Connection, on: date, policy: EligibilityPolicy
) -> dict[int, ModelCounts]:
    """Return the counts of every Device Model that has devices, attempts or evidence.

    ``device_eligible`` counts devices with no device-level reason on ``on``; the caller
    combines it with the model's state, since a suspended or Non-Migratable model has no
    eligible device.
    """
    counts: defaultdict[int, ModelCounts] = defaultdict(ModelCounts)
    _count_states(connection, counts)
    _count_eligible(connection, counts, on, policy)
    proving = connection.execute(
        select(attempt.c.model_id, func.count(distinct(attempt.c.device_id)))
        .where(attempt.c.proving_step.is_not(None))
        .group_by(attempt.c.model_id)
    )
    for model_id, number in proving:
        counts[model_id].proving_devices = number
    kinds = connection.execute(
        select(evidence.c.model_id, evidence.c.kind, func.count())
        .where(evidence.c.model_id.is_not(None))
        .group_by(evidence.c.model_id, evidence.c.kind)
    )
    for model_id, kind, number in kinds:
        counts[model_id].evidence[kind] = number
    return dict(counts)


def _count_states(connection: Connection, counts: defaultdict[int, ModelCounts]) -> None:
    rows = connection.execute(
        select(device.c.model_id, device.c.migration_state, func.count())
        .where(device.c.model_id.is_not(None))
        .group_by(device.c.model_id, device.c.migration_state)
    )
    for model_id, state, number in rows:
        model = counts[model_id]
        model.devices += number
        if state == MigrationState.MIGRATED.value:
            model.migrated += number
        elif state == MigrationState.AWAITING_REMEDIATION.value:
            model.failed += number


def _count_eligible(
    connection: Connection,
    counts: defaultdict[int, ModelCounts],
    on: date,
    policy: EligibilityPolicy,
) -> None:
    # Cached results that hold on ``on`` are counted in SQL; the rest are evaluated again
    # with the same rule, as ``summarise_eligibility`` does.
    fresh = connection.execute(
        select(device.c.model_id, func.count())
        .where(device.c.model_id.is_not(None), device.c.reason.is_(None), ~stale_condition(on))
        .group_by(device.c.model_id)
    )
    for model_id, number in fresh:
        counts[model_id].device_eligible += number
    stale: Counter[int] = Counter()
    rows = connection.execution_options(yield_per=BATCH_SIZE).execute(
        facts_select()
        .add_columns(device.c.model_id)
        .where(device.c.model_id.is_not(None), stale_condition(on))
    )
    for row in rows:
        if evaluate_device(facts_from_row(row._mapping), on, policy).reason is None:
            stale[row.model_id] += 1
    for model_id, number in stale.items():
        counts[model_id].device_eligible += number
