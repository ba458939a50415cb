"""The ``models`` listing: every Device Model with its state and counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from ecos_migration.domain.eligibility import EligibilityPolicy, ModelCondition
from ecos_migration.domain.models import model_condition
from ecos_migration.domain.upgrades import upgrade_targets
from ecos_migration.store.model_queries import ModelCounts, model_counts
from ecos_migration.store.models import ModelRecord, all_models
from ecos_migration.store.upgrades import allowed_upgrades


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """One Device Model with its counts on a date."""

    record: ModelRecord
    counts: ModelCounts
    eligible: int
    upgrade_targets: list[str]

    def to_json(self) -> dict[str, Any]:
        """Return the model in the JSON form of ``models --json``."""
        key = self.record.key
        return {
            "model": str(key),
            "device_type": key.device_type.value,
            "manufacturer": key.manufacturer,
            "model_name": key.model,
            "firmware_version": key.firmware_version,
            "state": self.record.state.value,
            "state_reason": self.record.state_reason,
            "state_changed_on": (
                self.record.state_changed_on.isoformat() if self.record.state_changed_on else None
            ),
            "devices": self.counts.devices,
            "eligible": self.eligible,
            "proving_devices": self.counts.proving_devices,
            "migrated": self.counts.migrated,
            "failed": self.counts.failed,
            "evidence": dict(self.counts.evidence),
            "upgrade_targets": self.upgrade_targets,
        }


def list_models(connection: Connection, on: date, policy: EligibilityPolicy) -> list[ModelSummary]:
    """Return every Device Model, ordered by key, with its counts on ``on``."""
    models = all_models(connection)
    counts = model_counts(connection, on, policy)
    allowed = allowed_upgrades(connection)
    keys = [model.key for model in models]
    summaries = []
    for model in models:
        model_count = counts.get(model.id, ModelCounts())
        open_model = model_condition(model.state) is ModelCondition.NONE
        summaries.append(
            ModelSummary(
                record=model,
                counts=model_count,
                eligible=model_count.device_eligible if open_model else 0,
                upgrade_targets=[str(t) for t in upgrade_targets(model.key, keys, allowed)],
            )
        )
    return summaries
