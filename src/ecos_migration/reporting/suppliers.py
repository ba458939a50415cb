"""Reports to each Supplier Party about its own devices, one folder per supplier.

Every supplier's folder contains ``failed-migrations.csv``, ``non-migratable-devices.csv``,
``actionable-ineligible.csv`` and ``summary.xlsx`` (the same rows as sheets plus a sheet of
counts). Devices are streamed ordered by supplier, so only one supplier's CSV files are open
at a time and memory does not grow with the number of devices. Writing a workbook costs more
than the query, so the workbooks are built from the finished CSV files in worker processes.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO

from openpyxl import Workbook
from sqlalchemy import Connection, Engine

from ecos_migration.domain.compliance import is_supplier_actionable, still_needs_migration
from ecos_migration.domain.device import MigrationState, SmiStatus
from ecos_migration.domain.eligibility import (
    EligibilityPolicy,
    ModelCondition,
    Reason,
    evaluate_device,
    primary_reason,
)
from ecos_migration.domain.error_strategy import ErrorStrategy
from ecos_migration.domain.models import ModelState, model_condition
from ecos_migration.errors import InputError
from ecos_migration.reporting.files import atomic_directory
from ecos_migration.store.eligibility import facts_from_row
from ecos_migration.store.reporting import (
    iter_supplier_report_devices,
    latest_appeal_status,
    supplier_device_counts,
)

logger = logging.getLogger(__name__)

FAILED_MIGRATIONS = "failed-migrations.csv"
NON_MIGRATABLE_DEVICES = "non-migratable-devices.csv"
ACTIONABLE_INELIGIBLE = "actionable-ineligible.csv"
SUMMARY_WORKBOOK = "summary.xlsx"

FAILED_COLUMNS = (
    "device_id",
    "device_type",
    "device_model",
    "step",
    "error_code",
    "error_description",
    "attempts",
    "first_attempt_on",
    "last_attempt_on",
    "required_action",
    "who_must_act",
)
NON_MIGRATABLE_COLUMNS = (
    "device_id",
    "device_type",
    "device_model",
    "determined_on",
    "model_reason",
    "appeal_status",
)
ACTIONABLE_COLUMNS = (
    "device_id",
    "device_type",
    "device_model",
    "smi_status",
    "reason",
    "reason_description",
    "required_action",
    "who_must_act",
)

# Required action for each actionable reason whose action does not come from an error kind.
SUPPLIER_ACTIONS = {
    Reason.COMMS_FAILURE: "Restore communications with the device.",
    Reason.NOT_COMMISSIONED: "Commission the installed device, or withdraw it.",
}
NO_APPEAL = "NONE"


@dataclass
class SupplierCounts:
    """Rows written for one supplier."""

    failed_migrations: int = 0
    non_migratable_devices: int = 0
    actionable_ineligible: int = 0
    actionable_by_reason: Counter[str] = field(default_factory=Counter)


@dataclass
class SupplierReportResult:
    """The suppliers and row counts written by ``write_supplier_reports``."""

    out_dir: Path
    on: date
    suppliers: dict[str, SupplierCounts] = field(default_factory=dict)


def _model_name(row: Mapping[Any, Any]) -> str:
    if row["manufacturer"] is None:
        return ""
    return f"{row['device_type']}/{row['manufacturer']}/{row['model']}/{row['firmware_version']}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# The sheets of summary.xlsx after the Summary sheet, each with the CSV file it repeats.
SHEETS = (
    ("Failed migrations", FAILED_MIGRATIONS),
    ("Non-migratable devices", NON_MIGRATABLE_DEVICES),
    ("Actionable ineligible", ACTIONABLE_INELIGIBLE),
)
INTEGER_COLUMNS = frozenset({"attempts"})


def _cell(column: str, text: str) -> Any:
    """Return a CSV value with the type a spreadsheet shows: integers, dates, else text."""
    if not text:
        return None
    if column in INTEGER_COLUMNS:
        return int(text)
    if column.endswith("_on"):
        return date.fromisoformat(text)
    return text


def write_workbook(folder: Path, summary: list[list[Any]]) -> None:
    """Write ``summary.xlsx`` in ``folder`` from the summary rows and the folder's CSV files.

    The CSV files are read row by row and openpyxl's write-only mode streams each sheet to a
    temporary file, so memory stays flat whatever the number of rows.
    """
    workbook = Workbook(write_only=True)
    summary_sheet = workbook.create_sheet("Summary")
    for row in summary:
        summary_sheet.append(row)
    for title, name in SHEETS:
        sheet = workbook.create_sheet(title)
        with (folder / name).open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            columns = next(reader)
            sheet.append(columns)
            for values in reader:
                sheet.append(
                    [_cell(column, text) for column, text in zip(columns, values, strict=True)]
                )
    workbook.save(folder / SUMMARY_WORKBOOK)


class _SupplierFiles:
    """The open CSV files of one supplier's folder."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.counts = SupplierCounts()
        self._handles: list[TextIO] = []
        self.failed = self._open(FAILED_MIGRATIONS, FAILED_COLUMNS)
        self.non_migratable = self._open(NON_MIGRATABLE_DEVICES, NON_MIGRATABLE_COLUMNS)
        self.actionable = self._open(ACTIONABLE_INELIGIBLE, ACTIONABLE_COLUMNS)

    def _open(self, name: str, columns: tuple[str, ...]) -> Callable[[list[Any]], None]:
        handle = (self.folder / name).open("w", newline="", encoding="utf-8")
        self._handles.append(handle)
        writer = csv.writer(handle)
        writer.writerow(columns)

        def write(values: list[Any]) -> None:
            writer.writerow([_text(value) for value in values])

        return write

    def close(self, supplier_id: str, on: date, devices: Mapping[str, int]) -> list[list[Any]]:
        """Close the CSV files and return the rows of the workbook's Summary sheet."""
        for handle in self._handles:
            handle.close()
        summary: list[list[Any]] = [["Supplier", supplier_id], ["Report date", on], []]
        summary.append(["Devices", sum(devices.values())])
        for state in MigrationState:
            summary.append([f"Devices {state.value}", devices.get(state.value, 0)])
        summary.append([])
        summary.append(["Failed migrations", self.counts.failed_migrations])
        summary.append(["Devices on Non-Migratable models", self.counts.non_migratable_devices])
        summary.append(["Actionable ineligible devices", self.counts.actionable_ineligible])
        for reason, count in sorted(self.counts.actionable_by_reason.items()):
            summary.append([f"Actionable ineligible: {reason}", count])
        return summary

    def discard(self) -> None:
        """Close every file after an error."""
        for handle in self._handles:
            handle.close()


class _RowClassifier:
    """Applies the eligibility rule and the error strategy to one streamed device row."""

    def __init__(
        self, on: date, policy: EligibilityPolicy, strategy: ErrorStrategy, appeals: dict[int, str]
    ) -> None:
        self.on = on
        self.policy = policy
        self.strategy = strategy
        self.appeals = appeals

    def reason(self, row: Mapping[Any, Any]) -> Reason | None:
        if row["stale"]:
            device_reason = evaluate_device(facts_from_row(row), self.on, self.policy).reason
        else:
            device_reason = Reason(row["reason"]) if row["reason"] else None
        state = row["model_state"]
        condition = model_condition(ModelState(state)) if state else ModelCondition.NONE
        return primary_reason(device_reason, condition)

    def error(self, code: str | None) -> tuple[str, str, str]:
        """Return (description, required action, who must act) of an error code."""
        if code is None:
            return "", "", ""
        kind = self.strategy.kinds.get(code)
        if kind is None:
            return f"Error code {code} is not in the error strategy.", "", ""
        return kind.description, kind.action, kind.actor.value

    def write(self, files: _SupplierFiles, row: Mapping[Any, Any]) -> None:
        model = _model_name(row)
        if row["migration_state"] == MigrationState.AWAITING_REMEDIATION.value:
            description, action, actor = self.error(row["last_error_code"])
            files.failed(
                [
                    row["id"],
                    row["device_type"],
                    model,
                    row["last_step"],
                    row["last_error_code"],
                    description,
                    row["attempts"] or 0,
                    row["first_attempt_on"],
                    row["last_attempt_on"],
                    action,
                    actor,
                ]
            )
            files.counts.failed_migrations += 1

        reason = self.reason(row)
        if row["model_state"] == ModelState.NON_MIGRATABLE.value and still_needs_migration(reason):
            files.non_migratable(
                [
                    row["id"],
                    row["device_type"],
                    model,
                    row["non_migratable_on"],
                    row["model_state_reason"],
                    self.appeals.get(row["model_id"], NO_APPEAL),
                ]
            )
            files.counts.non_migratable_devices += 1

        if reason is not None and is_supplier_actionable(reason, SmiStatus(row["smi_status"])):
            if reason is Reason.AWAITING_REMEDIATION:
                _, action, actor = self.error(row["last_error_code"])
            else:
                action, actor = SUPPLIER_ACTIONS[reason], "SUPPLIER"
            files.actionable(
                [
                    row["id"],
                    row["device_type"],
                    model,
                    row["smi_status"],
                    reason.value,
                    reason.description,
                    action,
                    actor,
                ]
            )
            files.counts.actionable_ineligible += 1
            files.counts.actionable_by_reason[reason.value] += 1


def write_supplier_reports(
    engine: Engine,
    out_dir: Path,
    *,
    on: date,
    policy: EligibilityPolicy,
    strategy: ErrorStrategy,
    on_supplier: Callable[[str], None] | None = None,
    workbook_workers: int | None = None,
) -> SupplierReportResult:
    """Write every supplier's folder under ``out_dir``, replacing it whole when all are done.

    Every supplier with at least one device gets a folder, with header-only files if nothing
    in it needs the supplier's attention. The CSV files are written while the devices stream.
    Then ``workbook_workers`` processes build each ``summary.xlsx`` from them: the default is
    one per CPU, and 0 builds them in this process. ``on_supplier`` is called per folder.
    """
    result = SupplierReportResult(out_dir=out_dir, on=on)
    workers = (os.cpu_count() or 1) if workbook_workers is None else workbook_workers
    with atomic_directory(out_dir) as staging, _workbook_pool(workers) as pool:
        with engine.connect() as connection:
            devices = supplier_device_counts(connection)
            classifier = _RowClassifier(on, policy, strategy, latest_appeal_status(connection))
            folders = _write_csv_files(
                connection, staging, on=on, classifier=classifier, devices=devices, result=result
            )
            # Suppliers with nothing to report still get a folder of header-only files.
            for supplier_id in sorted(devices):
                if supplier_id not in result.suppliers:
                    files = _SupplierFiles(staging / _folder_name(supplier_id))
                    folders[supplier_id] = (files.folder, files.close(supplier_id, on, {}))
                    result.suppliers[supplier_id] = files.counts
        _write_workbooks(pool, folders, on_supplier)
    logger.info(
        "Wrote supplier reports for %d suppliers.",
        len(result.suppliers),
        extra={"report_folder": str(out_dir), "on": on.isoformat()},
    )
    return result


def _write_csv_files(
    connection: Connection,
    staging: Path,
    *,
    on: date,
    classifier: _RowClassifier,
    devices: Mapping[str, Mapping[str, int]],
    result: SupplierReportResult,
) -> dict[str, tuple[Path, list[list[Any]]]]:
    """Stream the devices into each supplier's CSV files; return each folder and summary."""
    folders: dict[str, tuple[Path, list[list[Any]]]] = {}
    current: str | None = None
    files: _SupplierFiles | None = None

    def finish() -> None:
        if files is not None and current is not None:
            folders[current] = (files.folder, files.close(current, on, devices.get(current, {})))
            result.suppliers[current] = files.counts

    try:
        for row in iter_supplier_report_devices(connection, on):
            if row["supplier_id"] != current:
                finish()
                current = row["supplier_id"]
                files = _SupplierFiles(staging / _folder_name(row["supplier_id"]))
            assert files is not None
            classifier.write(files, row)
        finish()
    except BaseException:
        if files is not None:
            files.discard()
        raise
    return folders


@contextmanager
def _workbook_pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    if workers < 1:
        yield None
        return
    # Spawned workers share nothing with this process, in particular no database connection.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _write_workbooks(
    pool: ProcessPoolExecutor | None,
    folders: Mapping[str, tuple[Path, list[list[Any]]]],
    on_supplier: Callable[[str], None] | None,
) -> None:
    if pool is None:
        for supplier_id, (folder, summary) in folders.items():
            write_workbook(folder, summary)
            if on_supplier is not None:
                on_supplier(supplier_id)
        return
    futures = {
        pool.submit(write_workbook, folder, summary): supplier_id
        for supplier_id, (folder, summary) in folders.items()
    }
    for future in as_completed(futures):
        future.result()
        if on_supplier is not None:
            on_supplier(futures[future])


def _folder_name(supplier_id: str) -> str:
    # Supplier ids are short codes; a path separator or a leading dot would escape the folder.
    if not supplier_id or "/" in supplier_id or "\\" in supplier_id or supplier_id.startswith("."):
        raise InputError(
            f"supplier id {supplier_id!r} cannot be used as a folder name: "
            "correct the supplier id in the inventory"
        )
    return supplier_id
