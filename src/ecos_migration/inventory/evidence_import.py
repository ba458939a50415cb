"""Importing evidence for the bulk gate from CSV: certificate replacements and SRV 6.23 successes.

Columns: ``device_id``, ``kind``, ``occurred_on``, ``reference`` and, optionally,
``device_model``. The evidence counts for ``device_model`` when it is given (the model the
device had when the evidence occurred, written ``TYPE/MANUFACTURER/MODEL/FIRMWARE``), and
otherwise for the device's current Device Model, so the device must be in the inventory.
A named ``device_model`` must already be a Device Model in the store, because evidence for
a model that no inventory holds would open a bulk gate for nothing. ``occurred_on`` must not
be later than the import date.

Evidence files hold one row per event, far fewer than an inventory, so the rows are kept in
memory between validation and loading. A row equal to evidence imported before is skipped,
so importing a file again changes nothing.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ecos_migration.domain.device import DeviceModelKey
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.errors import InputError, StoreError
from ecos_migration.inventory.csv_reader import check_header, describe_csv_error
from ecos_migration.inventory.problems import Problem, describe_problems
from ecos_migration.inventory.records import RowCheck
from ecos_migration.store.evidence import add_evidence
from ecos_migration.store.inventory import imported_evidence_keys, model_ids_of_devices
from ecos_migration.store.models import all_models

logger = logging.getLogger(__name__)

EVIDENCE_COLUMNS = ("device_id", "kind", "occurred_on", "reference")
OPTIONAL_COLUMNS = ("device_model",)
_KINDS = {kind.value: kind for kind in EvidenceKind}
MAX_REFERENCE_LENGTH = 128
_HINT = "Fix the file and import it again."


@dataclass(frozen=True, slots=True)
class _EvidenceRow:
    location: str
    device_id: str
    kind: EvidenceKind
    occurred_on: date
    reference: str | None
    model_key: DeviceModelKey | None


@dataclass
class EvidenceImportResult:
    """Counts of what importing one evidence file changed."""

    file: str
    rows: int = 0
    imported: int = 0
    already_imported: int = 0


def _read(path: Path, on: date) -> tuple[list[_EvidenceRow], list[Problem]]:
    file = str(path)
    rows: list[_EvidenceRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    first_line = 1
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            header = next(reader, None)
            names = [name.strip() for name in header or []]
            extra = tuple(name for name in OPTIONAL_COLUMNS if name in names)
            header_problems = check_header(file, header, EVIDENCE_COLUMNS + extra)
            if header_problems:
                raise InputError(
                    describe_problems(file, header_problems, len(header_problems), hint=_HINT)
                )
            first_line = reader.line_num + 1
            for fields in reader:
                line = reader.line_num
                # The next row starts after this one, whatever happens to this one.
                first_line = line + 1
                if not fields:
                    continue
                check = RowCheck(file, f"line {line}")
                if len(fields) != len(names):
                    check.add(None, None, f"expected {len(names)} fields, found {len(fields)}")
                    problems.extend(check.problems)
                    continue
                values = {name: value.strip() for name, value in zip(names, fields, strict=True)}
                row = _parse(check, values, on)
                key = (
                    values["device_id"].replace("-", "").upper(),
                    values["kind"],
                    values["occurred_on"],
                    values["reference"],
                )
                if key in seen:
                    check.add(None, None, f"the same evidence is on line {seen[key]}")
                    row = None
                seen.setdefault(key, line)
                problems.extend(check.problems)
                if row is not None:
                    rows.append(row)
    except csv.Error as exc:
        message = describe_csv_error(exc, first_line, reader.line_num)
        raise InputError(f"{file}: {message}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {file}: {exc}") from exc
    return rows, problems


def _parse(check: RowCheck, values: dict[str, str], on: date) -> _EvidenceRow | None:
    device_id = check.device_id("device_id", values["device_id"], required=True)
    kind = check.choice("kind", values["kind"], _KINDS)
    occurred_on = check.day("occurred_on", values["occurred_on"])
    if not values["occurred_on"]:
        check.add("occurred_on", "", "a date is required (YYYY-MM-DD)")
    if occurred_on is not None and occurred_on > on:
        check.add(
            "occurred_on",
            values["occurred_on"],
            f"the date is later than the import date {on.isoformat()}: "
            "evidence must have occurred already",
        )
    reference = values["reference"] or None
    if reference is not None and len(reference) > MAX_REFERENCE_LENGTH:
        check.add("reference", reference, f"at most {MAX_REFERENCE_LENGTH} characters")
    model_key = None
    if values.get("device_model"):
        try:
            model_key = DeviceModelKey.parse(values["device_model"])
        except ValueError as exc:
            check.add("device_model", values["device_model"], str(exc))
    if check.problems:
        return None
    assert device_id is not None and kind is not None and occurred_on is not None
    return _EvidenceRow(check.location, device_id, kind, occurred_on, reference, model_key)


def import_evidence_file(engine: Engine, path: Path, on: date) -> EvidenceImportResult:
    """Validate an evidence file and import it in one transaction; raise ``InputError``.

    ``on`` is the import date: evidence dated after it is invalid. Nothing is imported when
    any row is invalid, names a ``device_model`` that is not in the store, or names a device
    that is not in the inventory without naming its ``device_model``.
    """
    file = str(path)
    rows, problems = _read(path, on)
    result = EvidenceImportResult(file, rows=len(rows) + len(problems))
    try:
        with engine.begin() as connection:
            current = model_ids_of_devices(connection, (row.device_id for row in rows))
            named = {model.key: model.id for model in all_models(connection)}
            for row in rows:
                if row.model_key is not None and row.model_key not in named:
                    problems.append(
                        Problem(
                            file,
                            row.location,
                            "device_model",
                            str(row.model_key),
                            "no such Device Model in the store: import an inventory that "
                            "holds it first, or correct the model",
                        )
                    )
                if row.model_key is None and current.get(row.device_id) is None:
                    reason = (
                        "the device is not in the inventory"
                        if row.device_id not in current
                        else "the device has no Device Model in the inventory"
                    )
                    problems.append(
                        Problem(
                            file,
                            row.location,
                            "device_id",
                            row.device_id,
                            f"{reason}: import it first, or name the model in a "
                            "device_model column",
                        )
                    )
            if problems:
                raise InputError(describe_problems(file, problems, len(problems), hint=_HINT))
            known = imported_evidence_keys(connection, (row.device_id for row in rows))
            items = []
            for row in rows:
                if (row.device_id, row.kind.value, row.occurred_on, row.reference) in known:
                    result.already_imported += 1
                    continue
                model_id = named[row.model_key] if row.model_key else current[row.device_id]
                items.append(
                    Evidence(
                        row.device_id,
                        row.kind,
                        row.occurred_on,
                        EvidenceSource.IMPORTED,
                        model_id,
                        row.reference,
                    )
                )
            result.imported = add_evidence(connection, items)
            logger.info(
                "Imported evidence.",
                extra={
                    "file": file,
                    "imported": result.imported,
                    "skipped": result.already_imported,
                },
            )
    except SQLAlchemyError as exc:
        raise StoreError(f"{file}: the import failed and was rolled back: {exc}") from exc
    return result
