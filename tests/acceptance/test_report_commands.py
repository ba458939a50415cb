"""The report and compliance commands, run as a process on a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecos_migration.store.database import create_database_engine, upgrade_schema
from report_fleet import build_fleet


def _run(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecos_migration", "--db", db, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'ecos-migration.db'}"
    engine = create_database_engine(url)
    upgrade_schema(engine)
    with engine.begin() as connection:
        build_fleet(connection, 3)
    engine.dispose()
    return url


def test_report_suppliers_command(db: str, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    result = _run(db, "report", "suppliers", "--out", str(out), "--on", "2024-03-01")
    assert result.returncode == 0, result.stderr
    assert "SUP000" in result.stdout
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == [
        "SUP000",
        "SUP001",
        "SUP002",
    ]
    assert (out / "SUP002" / "summary.xlsx").exists()


def test_report_progress_command(db: str, tmp_path: Path) -> None:
    out = tmp_path / "progress"
    result = _run(db, "report", "progress", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "would be stranded" in result.stdout
    data = json.loads((out / "progress.json").read_text())
    # Without --on the report date is the last day a device migrated.
    assert data["on"] == "2024-02-04"
    assert (out / "progress.html").exists()


def test_report_non_migratable_command(db: str, tmp_path: Path) -> None:
    out = tmp_path / "public"
    result = _run(db, "report", "non-migratable", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Wrote 1 Non-Migratable Device Models" in result.stdout
    assert (out / "non-migratable-models.html").exists()


def test_report_all_command(db: str, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = _run(db, "report", "all", "--out", str(out), "--on", "2024-03-01")
    assert result.returncode == 0, result.stderr
    assert (out / "compliance" / "compliance.json").exists()
    assert (out / "suppliers" / "SUP001" / "failed-migrations.csv").exists()


def test_compliance_command_json(db: str) -> None:
    result = _run(db, "compliance", "--on", "2024-11-01", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["phase"] == "ENDED"
    assert data["supplier_cutoff_date"] == "2024-10-01"
    assert set(data["stranded"]) == {"SUP000", "SUP001", "SUP002"}
    for supplier, stranded in data["stranded"].items():
        assert stranded["devices"] == len(stranded["device_ids"])
        prefix = f"{int(supplier[3:]):04X}"
        assert all(identifier.startswith(prefix) for identifier in stranded["device_ids"])


def test_compliance_command_table(db: str) -> None:
    result = _run(db, "compliance", "--on", "2024-03-01")
    assert result.returncode == 0, result.stderr
    assert "IN_PERIOD" in result.stdout
    assert "Findings per supplier" in result.stdout
    assert "2024-02-10" in result.stdout


def test_report_bad_date(db: str, tmp_path: Path) -> None:
    result = _run(db, "report", "progress", "--out", str(tmp_path / "p"), "--on", "01/03/2024")
    assert result.returncode == 1
    assert "invalid --on date '01/03/2024'" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_foreign_folder(db: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep")
    result = _run(db, "report", "non-migratable", "--out", str(tmp_path))
    assert result.returncode == 1
    assert "not written by ecos-migration" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep"
