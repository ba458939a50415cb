"""Reports: to each supplier, to the Secretary of State, the public list and deadline findings.

``write_all_reports`` writes every report into one folder:

- ``suppliers/<supplier_id>/``: the supplier reports;
- ``progress/``: ``progress.html``, ``progress.json`` and the PNG charts;
- ``non-migratable/``: the public list of Non-Migratable Device Models;
- ``compliance/compliance.json``: the findings against the period's deadlines.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from ecos_migration.config import Settings
from ecos_migration.domain.error_strategy import ErrorStrategy, load_error_strategy
from ecos_migration.reporting.compliance import compliance_report, period_from_settings
from ecos_migration.reporting.files import atomic_directory
from ecos_migration.reporting.progress import progress_figures, write_progress_report
from ecos_migration.reporting.public import write_non_migratable_list
from ecos_migration.reporting.suppliers import write_supplier_reports

COMPLIANCE_JSON = "compliance.json"


@dataclass(frozen=True, slots=True)
class ReportSet:
    """Paths of the reports written by ``write_all_reports``."""

    suppliers: Path
    progress_html: Path
    non_migratable: Path
    compliance: Path
    supplier_count: int


def write_compliance_report(engine: Engine, settings: Settings, out_dir: Path, on: date) -> Path:
    """Write ``compliance.json`` into ``out_dir``, replacing it whole; return its path."""
    report = compliance_report(
        engine,
        on=on,
        period=period_from_settings(settings.period),
        in_scope_types=frozenset(settings.eligibility.in_scope_device_types),
    )
    with atomic_directory(out_dir) as staging:
        (staging / COMPLIANCE_JSON).write_text(
            json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8"
        )
    return out_dir / COMPLIANCE_JSON


def write_all_reports(
    engine: Engine,
    settings: Settings,
    out_dir: Path,
    on: date,
    strategy: ErrorStrategy | None = None,
) -> ReportSet:
    """Write every report for the store's state on ``on`` into ``out_dir``.

    Each report folder is replaced whole, so a crash leaves the previous set of that report.
    """
    strategy = strategy or load_error_strategy()
    policy = settings.eligibility.policy()
    suppliers = write_supplier_reports(
        engine, out_dir / "suppliers", on=on, policy=policy, strategy=strategy
    )
    figures = progress_figures(
        engine,
        on=on,
        period=period_from_settings(settings.period),
        policy=policy,
        strategy=strategy,
    )
    progress_html = write_progress_report(out_dir / "progress", figures)
    write_non_migratable_list(engine, out_dir / "non-migratable", on=on)
    compliance = write_compliance_report(engine, settings, out_dir / "compliance", on)
    return ReportSet(
        suppliers=out_dir / "suppliers",
        progress_html=progress_html,
        non_migratable=out_dir / "non-migratable",
        compliance=compliance,
        supplier_count=len(suppliers.suppliers),
    )
