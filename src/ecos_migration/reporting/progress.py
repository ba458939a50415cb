"""The progress report to the Secretary of State: figures, charts and the forecast.

``progress_figures`` gathers every figure from the store. ``write_progress_report`` writes
``progress.json`` with those figures, one PNG per chart and ``progress.html``. The page embeds
the charts as data URIs, so it opens from disk without any network access.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ecos_migration.domain.compliance import Period, dates_on
from ecos_migration.domain.device import MigrationState
from ecos_migration.domain.eligibility import EligibilityPolicy, Reason
from ecos_migration.domain.error_strategy import ErrorStrategy
from ecos_migration.domain.forecast import DEFAULT_WINDOW_DAYS, Forecast, forecast_completion
from ecos_migration.reporting import pages
from ecos_migration.reporting.files import atomic_directory
from ecos_migration.store.eligibility import summarise_eligibility
from ecos_migration.store.reporting import (
    devices_by_type_and_state,
    failures_by_error_code,
    migrated_per_day,
    models_by_state,
)
from ecos_migration.store.runs import day_summaries

logger = logging.getLogger(__name__)

PROGRESS_JSON = "progress.json"
PROGRESS_HTML = "progress.html"


@dataclass(frozen=True, slots=True)
class HistoryDay:
    """Migrations on one day and the totals at its end."""

    day: date
    migrated: int
    migrated_total: int
    remaining: int


@dataclass(frozen=True, slots=True)
class ErrorFailures:
    """Failed attempts with one error code."""

    code: str
    description: str
    failures: int


@dataclass(frozen=True)
class ProgressFigures:
    """Every figure of the progress report on one date."""

    on: date
    period_end: date
    devices: int
    in_scope: int
    migrated: int
    in_progress: int
    failed_migrations: int
    eligible: int
    in_scope_remaining: int
    history_source: str
    history: list[HistoryDay]
    by_device_type: dict[str, dict[str, int]]
    models_by_state: dict[str, int]
    ineligible_by_reason: dict[str, int]
    failures: list[ErrorFailures]
    forecast: Forecast

    def to_json(self) -> dict[str, Any]:
        """Return the figures in their documented JSON form."""
        return {
            "on": self.on.isoformat(),
            "period_end": self.period_end.isoformat(),
            "devices": self.devices,
            "in_scope": self.in_scope,
            "migrated": self.migrated,
            "in_progress": self.in_progress,
            "failed_migrations": self.failed_migrations,
            "eligible": self.eligible,
            "in_scope_remaining": self.in_scope_remaining,
            "history_source": self.history_source,
            "history": [
                {
                    "day": day.day.isoformat(),
                    "migrated": day.migrated,
                    "migrated_total": day.migrated_total,
                    "remaining": day.remaining,
                }
                for day in self.history
            ],
            "by_device_type": self.by_device_type,
            "models_by_state": self.models_by_state,
            "ineligible_by_reason": self.ineligible_by_reason,
            "failures_by_error_code": [
                {"code": item.code, "description": item.description, "failures": item.failures}
                for item in self.failures
            ],
            "forecast": self.forecast.to_json(),
        }


def _history_from_run_days(engine: Engine, on: date) -> list[HistoryDay]:
    with engine.connect() as connection:
        days = [day for day in day_summaries(connection) if day.day <= on]
    history: list[HistoryDay] = []
    total = 0
    for day in days:
        total += day.migrated
        history.append(HistoryDay(day.day, day.migrated, total, day.in_scope_remaining))
    return history


def _history_from_events(engine: Engine, on: date, remaining_now: int) -> list[HistoryDay]:
    """Derive the history from MIGRATED events: remaining on a day is today's remaining plus
    the devices migrated after that day."""
    with engine.connect() as connection:
        per_day = {day: count for day, count in migrated_per_day(connection).items() if day <= on}
    if not per_day:
        return []
    first, last = min(per_day), max(per_day)
    grand_total = sum(per_day.values())
    history: list[HistoryDay] = []
    total = 0
    day = first
    while day <= last:
        count = per_day.get(day, 0)
        total += count
        history.append(HistoryDay(day, count, total, remaining_now + grand_total - total))
        day += timedelta(days=1)
    return history


def progress_figures(
    engine: Engine,
    *,
    on: date,
    period: Period,
    policy: EligibilityPolicy,
    strategy: ErrorStrategy,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> ProgressFigures:
    """Gather the progress figures on ``on`` from the store."""
    with engine.connect() as connection:
        summary = summarise_eligibility(connection, on, policy)
        type_states = devices_by_type_and_state(connection)
        model_states = models_by_state(connection)
        failures = failures_by_error_code(connection)

    by_type: dict[str, dict[str, int]] = {}
    for device_type, state, count in type_states:
        by_type.setdefault(device_type, {})[state] = count

    def total(state: MigrationState) -> int:
        return sum(count for _, name, count in type_states if name == state.value)

    in_scope_remaining = summary.in_scope - summary.ineligible[Reason.ALREADY_ECOS]
    history = _history_from_run_days(engine, on)
    source = "run_day"
    if not history:
        history = _history_from_events(engine, on, in_scope_remaining)
        source = "events"

    end = dates_on(period, on).end_date
    forecast = forecast_completion(
        {day.day: day.migrated for day in history},
        as_of=on,
        eligible_remaining=summary.eligible,
        in_scope_remaining=in_scope_remaining,
        period_end=end,
        window_days=window_days,
    )
    return ProgressFigures(
        on=on,
        period_end=end,
        devices=summary.devices,
        in_scope=summary.in_scope,
        migrated=total(MigrationState.MIGRATED),
        in_progress=total(MigrationState.IN_PROGRESS),
        failed_migrations=total(MigrationState.AWAITING_REMEDIATION),
        eligible=summary.eligible,
        in_scope_remaining=in_scope_remaining,
        history_source=source,
        history=history,
        by_device_type=by_type,
        models_by_state=model_states,
        ineligible_by_reason={
            reason.value: count for reason, count in summary.ineligible.items() if count
        },
        failures=[
            ErrorFailures(code, _describe(strategy, code), count) for code, count in failures
        ],
        forecast=forecast,
    )


def _describe(strategy: ErrorStrategy, code: str) -> str:
    kind = strategy.kinds.get(code)
    return kind.description if kind else "Not in the error strategy."


def write_progress_report(out_dir: Path, figures: ProgressFigures) -> Path:
    """Write the progress report into ``out_dir``, replacing it whole; return the HTML path."""
    with atomic_directory(out_dir) as staging:
        (staging / PROGRESS_JSON).write_text(
            json.dumps(figures.to_json(), indent=2) + "\n", encoding="utf-8"
        )
        # matplotlib is imported here, not at module level, because loading it takes about a
        # second and every CLI command imports this module.
        from ecos_migration.reporting import charts

        images = charts.render_progress_charts(figures)
        for chart in images:
            (staging / chart.file_name).write_bytes(chart.png)
        (staging / PROGRESS_HTML).write_text(pages.progress_page(figures, images), encoding="utf-8")
    logger.info(
        "Wrote the progress report.", extra={"report_folder": str(out_dir), "on": str(figures.on)}
    )
    return out_dir / PROGRESS_HTML
