"""The status of the migration: device counts, eligibility and model states on one date."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection

from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.store.eligibility import summarise_eligibility
from ecos_migration.store.runs import current_day, migration_state_counts, model_state_counts


def status_date(connection: Connection, today: date) -> date:
    """Return the run's current day if a run was started, else ``today``."""
    return current_day(connection) or today


def migration_status(connection: Connection, on: date, policy: EligibilityPolicy) -> dict[str, Any]:
    """Return the status in its documented JSON form."""
    summary = summarise_eligibility(connection, on, policy)
    states = migration_state_counts(connection)
    return {
        "date": on.isoformat(),
        "devices": summary.devices,
        "in_scope": summary.in_scope,
        "migrated": states["MIGRATED"],
        "in_progress": states["IN_PROGRESS"],
        "awaiting_remediation": states["AWAITING_REMEDIATION"],
        "eligible": summary.eligible,
        "ineligible": {reason.value: count for reason, count in summary.ineligible.items()},
        "models": model_state_counts(connection),
    }
