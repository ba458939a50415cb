"""The progress report and the public Non-Migratable list against the store."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ecos_migration.config import load_settings
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.error_strategy import load_error_strategy
from ecos_migration.reporting import write_all_reports
from ecos_migration.reporting.compliance import period_from_settings
from ecos_migration.reporting.progress import (
    PROGRESS_HTML,
    PROGRESS_JSON,
    ProgressFigures,
    progress_figures,
    write_progress_report,
)
from ecos_migration.reporting.public import (
    COLUMNS,
    PUBLIC_CSV,
    PUBLIC_HTML,
    write_non_migratable_list,
)
from ecos_migration.store.eligibility import summarise_eligibility
from ecos_migration.store.schema import attempt, device
from report_fleet import REPORT_DAY, add_run_days, build_fleet

CHARTS = {
    "migrated-and-remaining.png",
    "migrations-per-day.png",
    "by-device-type.png",
    "models-by-state.png",
    "failures-by-error-kind.png",
    "forecast.png",
}


class _References(HTMLParser):
    """Collects every tag name and every src and href value of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data") and value is not None:
                self.references.append(value)


def _figures(engine: Engine) -> ProgressFigures:
    return progress_figures(
        engine,
        on=REPORT_DAY,
        period=period_from_settings(load_settings().period),
        policy=EligibilityPolicy(),
        strategy=load_error_strategy(),
    )


def _count(engine: Engine, *conditions: object) -> int:
    with engine.connect() as connection:
        value = connection.execute(select(func.count()).where(*conditions)).scalar()  # type: ignore[arg-type]
    return int(value or 0)


@pytest.fixture
def fleet_engine(engine: Engine) -> Engine:
    with engine.begin() as connection:
        build_fleet(connection, 4)
    return engine


def test_report_progress_figures_match_store(fleet_engine: Engine) -> None:
    figures = _figures(fleet_engine)
    with fleet_engine.connect() as connection:
        summary = summarise_eligibility(connection, REPORT_DAY, EligibilityPolicy())

    assert figures.devices == _count(fleet_engine, device.c.id.is_not(None))
    assert figures.migrated == _count(fleet_engine, device.c.migration_state == "MIGRATED")
    assert figures.failed_migrations == _count(
        fleet_engine, device.c.migration_state == "AWAITING_REMEDIATION"
    )
    assert figures.eligible == summary.eligible
    assert figures.in_scope == summary.in_scope
    assert figures.models_by_state["NON_MIGRATABLE"] == 1
    assert figures.failures[0].code == "COMMAND_REJECTED"
    assert figures.failures[0].failures == _count(fleet_engine, attempt.c.status == "FAILED")
    assert figures.by_device_type["CHF"]["NOT_STARTED"] == 4

    # Without run days the history comes from MIGRATED events.
    assert figures.history_source == "events"
    assert sum(day.migrated for day in figures.history) == figures.migrated
    assert figures.history[-1].migrated_total == figures.migrated
    assert figures.history[-1].remaining == figures.in_scope_remaining
    days = [day.day for day in figures.history]
    assert days == [days[0] + timedelta(days=n) for n in range(len(days))]

    forecast = figures.forecast
    assert forecast.eligible_remaining == summary.eligible
    assert forecast.in_scope_remaining == figures.in_scope_remaining
    assert forecast.period_end == date(2024, 10, 31)


def test_report_progress_uses_run_days(fleet_engine: Engine) -> None:
    per_day = {REPORT_DAY - timedelta(days=n): 3 for n in range(28)}
    with fleet_engine.begin() as connection:
        add_run_days(connection, per_day, remaining=40)
    figures = _figures(fleet_engine)

    assert figures.history_source == "run_day"
    assert len(figures.history) == 28
    assert figures.history[-1].remaining == 40
    assert figures.history[-1].migrated_total == 84
    assert figures.forecast.rate_per_day == 3


def test_report_progress_files(fleet_engine: Engine, tmp_path: Path) -> None:
    figures = _figures(fleet_engine)
    out = tmp_path / "progress"
    page = write_progress_report(out, figures)

    assert page == out / PROGRESS_HTML
    names = {path.name for path in out.iterdir() if not path.name.startswith(".")}
    assert names == CHARTS | {PROGRESS_HTML, PROGRESS_JSON}
    for chart in CHARTS:
        assert (out / chart).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    data = json.loads((out / PROGRESS_JSON).read_text())
    assert data == figures.to_json()
    assert data["migrated"] == figures.migrated
    assert data["forecast"]["window_days"] == 28


def test_report_progress_html_offline(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "progress"
    write_progress_report(out, _figures(fleet_engine))
    text = (out / PROGRESS_HTML).read_text()
    parser = _References()
    parser.feed(text)

    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert "iframe" not in parser.tags
    assert parser.tags.count("img") == len(CHARTS)
    for reference in parser.references:
        assert reference.startswith("data:image/png;base64,"), reference[:40]
    for network in ("http://", "https://", "//"):
        assert not any(ref.startswith(network) for ref in parser.references)
    assert "url(" not in text
    assert "@import" not in text


def test_report_progress_empty_store(engine: Engine, tmp_path: Path) -> None:
    figures = _figures(engine)
    assert figures.devices == 0
    assert figures.history == []
    assert figures.forecast.completion_date == REPORT_DAY
    write_progress_report(tmp_path / "progress", figures)
    assert (tmp_path / "progress" / "forecast.png").exists()


def test_report_public_list(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "public"
    count = write_non_migratable_list(fleet_engine, out, on=REPORT_DAY)

    assert count == 1
    with (out / PUBLIC_CSV).open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == list(COLUMNS)
    assert rows == [
        {
            "manufacturer": "EF03",
            "model": "E300",
            "firmware_version": "0007",
            "device_type": "ESME",
            "determined_on": "2024-02-01",
            "reason": "The device rejects the replacement command with this firmware.",
            "appeal_status": "UPHELD",
        }
    ]
    parser = _References()
    parser.feed((out / PUBLIC_HTML).read_text())
    assert parser.references == []
    assert "script" not in parser.tags


def test_report_public_list_no_device_data(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "public"
    write_non_migratable_list(fleet_engine, out, on=REPORT_DAY)
    texts = [(out / PUBLIC_CSV).read_text(), (out / PUBLIC_HTML).read_text()]
    with fleet_engine.connect() as connection:
        rows = list(connection.execute(select(device.c.id, device.c.supplier_id, device.c.mpxn)))

    for identifier, supplier, mpxn in rows:
        for text in texts:
            assert identifier not in text
            assert supplier not in text
            assert mpxn is None or mpxn not in text


def test_report_all_folders(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    written = write_all_reports(fleet_engine, load_settings(), out, REPORT_DAY)

    assert written.supplier_count == 4
    assert written.progress_html.exists()
    assert (out / "non-migratable" / PUBLIC_CSV).exists()
    assert json.loads(written.compliance.read_text())["phase"] == "IN_PERIOD"
    assert sorted(path.name for path in out.iterdir()) == [
        "compliance",
        "non-migratable",
        "progress",
        "suppliers",
    ]


def test_report_progress_renders_offline(fleet_engine: Engine, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed")
    out = tmp_path / "progress"
    write_progress_report(out, _figures(fleet_engine))

    # Every host name fails to resolve and the proxy is a closed loopback port, so a page
    # that needed the network would show broken content instead of loading it.
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--dump-dom",
            (out / PROGRESS_HTML).as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    parser = _References()
    parser.feed(result.stdout)
    assert parser.tags.count("img") == len(CHARTS)
    assert "ECoS Migration progress report" in result.stdout
