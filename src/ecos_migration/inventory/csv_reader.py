"""Streaming reader of inventory CSV files.

The file is read row by row, so memory does not grow with its size. Rows repeating a
device id are found by the importer, which keeps the ids in the database.
"""

from __future__ import annotations

import csv
import operator
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.errors import InputError
from ecos_migration.inventory.problems import Problem
from ecos_migration.inventory.records import (
    ParsedRow,
    RowCheck,
    build_record,
    new_parsed_row,
    quick_record,
)

INVENTORY_COLUMNS = (
    "device_id",
    "device_type",
    "generation",
    "smi_status",
    "manufacturer",
    "model",
    "firmware_version",
    "chf_id",
    "supplier_id",
    "mpxn",
    "commissioned_on",
    "last_change_of_supplier_on",
    "comms_status",
    "cos_credential",
)


def describe_csv_error(exc: csv.Error, first_line: int, line: int) -> str:
    """Return what a ``csv.Error`` means for the row that spans ``first_line`` to ``line``.

    The readers run in strict mode, so a quote left open raises at the end of the file
    instead of joining every later line into one field.
    """
    text = str(exc)
    if text.startswith("unexpected end of data"):
        return (
            f"line {first_line}: a quote is not closed: the quoted field that starts on "
            "this line runs to the end of the file; close the quote or remove it"
        )
    if text.startswith("field larger than field limit"):
        return (
            f"line {line}: a field is too long: the limit is {csv.field_size_limit()} "
            f"characters per field (row from line {first_line}); a quote left open also "
            "joins the following lines into one field"
        )
    if "expected after '\"'" in text:
        return f"line {line}: invalid CSV: a closing quote must end its field ({text})"
    return f"line {line}: invalid CSV: {text}"


def check_header(file: str, header: list[str] | None, expected: tuple[str, ...]) -> list[Problem]:
    """Return the problems of a header row: missing, unknown and repeated columns."""
    if header is None:
        return [Problem(file, "line 1", None, None, "the file is empty: expected a header row")]
    names = [name.strip() for name in header]
    problems = [
        Problem(file, "line 1", name, name, "unknown column; expected: " + ", ".join(expected))
        for name in names
        if name not in expected
    ]
    problems.extend(
        Problem(file, "line 1", name, None, "missing column")
        for name in expected
        if name not in names
    )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(Problem(file, "line 1", name, name, "the column appears twice"))
        seen.add(name)
    return problems


def read_inventory_csv(
    path: Path, policy: EligibilityPolicy, on: date | None = None
) -> Iterator[ParsedRow]:
    """Yield every data row of an inventory CSV file, validated against snapshot date ``on``.

    Raises ``InputError`` when the header is invalid, because then no row can be read.
    """
    file = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle, strict=True)
        first_line = 1
        try:
            header = next(reader, None)
            problems = check_header(file, header, INVENTORY_COLUMNS)
            if problems:
                raise InputError(
                    "\n".join(
                        [f"{file}: invalid header, nothing was imported:"]
                        + [f"  {problem}" for problem in problems]
                    )
                )
            assert header is not None
            names = [name.strip() for name in header]
            first_line = reader.line_num + 1
            for row in _rows(file, reader, names, policy, on):
                first_line = reader.line_num + 1
                yield row
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{file}: line {reader.line_num + 1}: the file is not valid UTF-8 ({exc.reason}); "
                "save it as UTF-8 and import it again"
            ) from exc
        except csv.Error as exc:
            message = describe_csv_error(exc, first_line, reader.line_num)
            raise InputError(f"{file}: {message}") from exc


def _rows(
    file: str, reader: Any, names: list[str], policy: EligibilityPolicy, on: date | None
) -> Iterator[ParsedRow]:
    width = len(names)
    # The fields in ``INVENTORY_COLUMNS`` order, whatever the order of the file's columns.
    ordered = operator.itemgetter(*(names.index(name) for name in INVENTORY_COLUMNS))
    in_order = tuple(names) == INVENTORY_COLUMNS
    strip = str.strip
    header = tuple(names)
    no_absent: frozenset[str] = frozenset()
    for fields in reader:
        line: int = reader.line_num
        if not fields:
            continue
        if len(fields) == width:
            stripped = tuple(map(strip, fields if in_order else ordered(fields)))
            quick = quick_record(stripped, policy, on)
            if quick is not None:
                location = f"line {line}"
                yield new_parsed_row((location, line, quick, [], fields, header, no_absent))
                continue
        check = RowCheck(file, f"line {line}")
        if len(fields) != width:
            check.add(None, None, f"expected {width} fields, found {len(fields)}")
            yield ParsedRow(check.location, line, None, check.problems, fields, header)
            continue
        values = {name: value.strip() for name, value in zip(names, fields, strict=True)}
        record = build_record(check, values, policy, on=on)
        yield ParsedRow(check.location, line, record, check.problems, fields, header)
