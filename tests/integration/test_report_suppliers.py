"""Supplier reports against the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select

from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.error_strategy import load_error_strategy
from ecos_migration.errors import InputError
from ecos_migration.reporting import suppliers as supplier_reports
from ecos_migration.reporting.files import MARKER
from ecos_migration.reporting.suppliers import (
    ACTIONABLE_COLUMNS,
    ACTIONABLE_INELIGIBLE,
    FAILED_COLUMNS,
    FAILED_MIGRATIONS,
    NON_MIGRATABLE_COLUMNS,
    NON_MIGRATABLE_DEVICES,
    SUMMARY_WORKBOOK,
    write_supplier_reports,
)
from ecos_migration.store.schema import device, device_model
from report_fleet import REPORT_DAY, build_fleet, device_id, supplier_name

SUPPLIERS = 12


def _write(engine: Engine, out: Path, workers: int = 0) -> supplier_reports.SupplierReportResult:
    return write_supplier_reports(
        engine,
        out,
        on=REPORT_DAY,
        policy=EligibilityPolicy(),
        strategy=load_error_strategy(),
        workbook_workers=workers,
    )


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _ids(engine: Engine, *conditions: object) -> dict[str, set[str]]:
    query = (
        select(device.c.supplier_id, device.c.id)
        .select_from(device.outerjoin(device_model, device_model.c.id == device.c.model_id))
        .where(*conditions)  # type: ignore[arg-type]
    )
    found: dict[str, set[str]] = {}
    with engine.connect() as connection:
        for supplier, identifier in connection.execute(query):
            found.setdefault(supplier, set()).add(identifier)
    return found


@pytest.fixture
def fleet_engine(engine: Engine) -> Engine:
    with engine.begin() as connection:
        build_fleet(connection, SUPPLIERS)
    return engine


def test_report_folder_per_supplier(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    result = _write(fleet_engine, out)

    expected = {supplier_name(index) for index in range(SUPPLIERS)}
    assert set(result.suppliers) == expected
    assert {path.name for path in out.iterdir() if path.is_dir()} == expected
    for supplier in expected:
        names = {path.name for path in (out / supplier).iterdir()}
        assert names == {
            FAILED_MIGRATIONS,
            NON_MIGRATABLE_DEVICES,
            ACTIONABLE_INELIGIBLE,
            SUMMARY_WORKBOOK,
        }


def test_report_supplier_isolation(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    _write(fleet_engine, out)

    for index in range(SUPPLIERS):
        prefix = f"{index:04X}"
        folder = out / supplier_name(index)
        for name in (FAILED_MIGRATIONS, NON_MIGRATABLE_DEVICES, ACTIONABLE_INELIGIBLE):
            _, rows = _read(folder / name)
            for row in rows:
                assert row["device_id"].startswith(prefix), (name, row["device_id"])
        for other in range(SUPPLIERS):
            if other != index:
                text = "".join(p.read_text() for p in folder.glob("*.csv"))
                assert supplier_name(other) not in text


def test_report_failed_migrations_match_store(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    _write(fleet_engine, out)
    expected = _ids(fleet_engine, device.c.migration_state == "AWAITING_REMEDIATION")

    for index in range(SUPPLIERS):
        supplier = supplier_name(index)
        columns, rows = _read(out / supplier / FAILED_MIGRATIONS)
        assert columns == list(FAILED_COLUMNS)
        assert {row["device_id"] for row in rows} == expected.get(supplier, set())
        for row in rows:
            assert row["device_type"] == "ESME"
            assert row["device_model"] == "ESME/AB01/E100/0001"
            assert row["step"] == "REPLACE"
            assert row["error_code"] == "COMMAND_REJECTED"
            assert row["error_description"] != ""
            assert row["attempts"] == "2"
            assert row["first_attempt_on"] == "2024-02-10"
            assert row["last_attempt_on"] == "2024-02-12"
            assert row["required_action"].startswith("Upgrade the device firmware")
            assert row["who_must_act"] == "SUPPLIER"


def test_report_non_migratable_devices_match_store(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    _write(fleet_engine, out)
    expected = _ids(
        fleet_engine,
        device_model.c.state == "NON_MIGRATABLE",
        device.c.credential != "ECOS",
    )

    for index in range(SUPPLIERS):
        supplier = supplier_name(index)
        columns, rows = _read(out / supplier / NON_MIGRATABLE_DEVICES)
        assert columns == list(NON_MIGRATABLE_COLUMNS)
        assert {row["device_id"] for row in rows} == expected.get(supplier, set())
        for row in rows:
            assert row["device_model"] == "ESME/EF03/E300/0007"
            assert row["determined_on"] == "2024-02-01"
            assert row["model_reason"] != ""
            # The latest appeal of the model counts, from any supplier.
            assert row["appeal_status"] == "UPHELD"


def test_report_actionable_match_store(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    _write(fleet_engine, out)
    comms = _ids(fleet_engine, device.c.comms_status == "FAILED")
    installed = _ids(fleet_engine, device.c.smi_status == "InstalledNotCommissioned")
    failed = _ids(fleet_engine, device.c.migration_state == "AWAITING_REMEDIATION")

    for index in range(SUPPLIERS):
        supplier = supplier_name(index)
        columns, rows = _read(out / supplier / ACTIONABLE_INELIGIBLE)
        assert columns == list(ACTIONABLE_COLUMNS)
        by_reason: dict[str, set[str]] = {}
        for row in rows:
            by_reason.setdefault(row["reason"], set()).add(row["device_id"])
            assert row["required_action"] != ""
            assert row["who_must_act"] != ""
        assert by_reason.get("COMMS_FAILURE", set()) == comms.get(supplier, set())
        assert by_reason.get("NOT_COMMISSIONED", set()) == installed.get(supplier, set())
        assert by_reason.get("AWAITING_REMEDIATION", set()) == failed.get(supplier, set())
        assert set(by_reason) <= {"COMMS_FAILURE", "NOT_COMMISSIONED", "AWAITING_REMEDIATION"}
        # Decommissioned devices are NOT_COMMISSIONED too, but a supplier cannot fix that.
        decommissioned = device_id(index, 6, 0)
        assert decommissioned not in by_reason.get("NOT_COMMISSIONED", set())


def test_report_xlsx_reads_back(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "suppliers"
    # Two worker processes build the workbooks, as on a machine with several CPUs.
    result = _write(fleet_engine, out, workers=2)

    for index in (0, 5):
        supplier = supplier_name(index)
        folder = out / supplier
        workbook = load_workbook(folder / SUMMARY_WORKBOOK, read_only=True)
        assert workbook.sheetnames == [
            "Summary",
            "Failed migrations",
            "Non-migratable devices",
            "Actionable ineligible",
        ]
        for sheet, name in (
            ("Failed migrations", FAILED_MIGRATIONS),
            ("Non-migratable devices", NON_MIGRATABLE_DEVICES),
            ("Actionable ineligible", ACTIONABLE_INELIGIBLE),
        ):
            columns, rows = _read(folder / name)
            values = list(workbook[sheet].values)
            assert list(values[0]) == columns
            assert len(values) - 1 == len(rows)
            assert [value[0] for value in values[1:]] == [row["device_id"] for row in rows]
            for value, row in zip(values[1:], rows, strict=True):
                cells = dict(zip(columns, value, strict=True))
                if "attempts" in cells:
                    assert cells["attempts"] == int(row["attempts"])
                    assert cells["last_attempt_on"].date().isoformat() == row["last_attempt_on"]

        summary = {row[0]: row[1] for row in workbook["Summary"].values if row and row[0]}
        counts = result.suppliers[supplier]
        assert summary["Supplier"] == supplier
        assert summary["Failed migrations"] == counts.failed_migrations
        assert summary["Devices on Non-Migratable models"] == counts.non_migratable_devices
        assert summary["Actionable ineligible devices"] == counts.actionable_ineligible
        with fleet_engine.connect() as connection:
            devices = connection.execute(
                select(func.count()).where(device.c.supplier_id == supplier)
            ).scalar()
            migrated = connection.execute(
                select(func.count()).where(
                    device.c.supplier_id == supplier, device.c.migration_state == "MIGRATED"
                )
            ).scalar()
        assert summary["Devices"] == devices
        assert summary["Devices MIGRATED"] == migrated
        workbook.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_report_crash_keeps_previous(
    fleet_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports" / "suppliers"
    _write(fleet_engine, out)
    before = sorted(str(path.relative_to(out)) for path in out.rglob("*"))

    calls = {"count": 0}
    original = supplier_reports._SupplierFiles.close

    def failing_close(self: supplier_reports._SupplierFiles, *args: object) -> None:
        calls["count"] += 1
        if calls["count"] == 3:
            raise OSError("disk full")
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(supplier_reports._SupplierFiles, "close", failing_close)
    with pytest.raises(OSError, match="disk full"):
        _write(fleet_engine, out)

    after = sorted(str(path.relative_to(out)) for path in out.rglob("*"))
    assert after == before
    assert [path.name for path in out.parent.iterdir()] == ["suppliers"]


def test_report_refuses_foreign_folder(fleet_engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "documents"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not written by ecos-migration"):
        _write(fleet_engine, out)
    assert (out / "notes.txt").read_text() == "keep me"
    assert not (out / MARKER).exists()
