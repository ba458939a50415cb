"""The one-pass check accepts exactly the rows ``build_record`` accepts, with the same record."""

from __future__ import annotations

import itertools
import random
from datetime import date

from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
from ecos_migration.inventory.records import RowCheck, build_record, quick_record

POLICY = EligibilityPolicy()

# Per column, valid and invalid values, including the edge cases of each check.
CHOICES: dict[str, list[str]] = {
    "device_id": [
        "00DB1234567890A2",
        "00-db-12-34-56-78-90-a2",
        "",
        "00DB12",
        "00DB1234567890AZ",
        # 16 characters that are not 16 hex digits, and a trailing newline the pattern's
        # "$" accepts: the plain-form shortcut must agree with the pattern on each.
        "00db1234567890a2",
        "00-DB1234567890A",
        "0xDB1234567890A2",
        "00DB1234567890\u00c42",
        "00DB1234567890A2\n",
        "00DB1234567890A2F",
    ],
    "device_type": ["ESME", "GSME", "GPF", "CHF", "PPMID", "HCALCS", "esme", ""],
    "generation": ["SMETS2", "SMETS1", "SMETS3", ""],
    "smi_status": ["Commissioned", "InstalledNotCommissioned", "Decommissioned", "Bad", ""],
    "manufacturer": ["AB01", "", "M" * 64, "M" * 65],
    "model": ["010A030B", "", "X" * 65],
    "firmware_version": ["0002012F", "", "F" * 65],
    "chf_id": ["", "00DB1234567890A0", "00-DB-12-34-56-78-90-A0", "nothex", "00DB1234567890G0"],
    "supplier_id": [
        "SUP1",
        "",
        "S" * 32,
        "S" * 33,
        "sup-1_a.b",
        "../../../tmp/x",
        ".",
        "..",
        "-x",
        "A B",
        "A;B",
        "SÜP",
    ],
    "mpxn": ["123", "", "9" * 33],
    "commissioned_on": ["2023-01-01", "", "2023-02-30", "20230101", "01/02/2023", "2099-01-01"],
    "last_change_of_supplier_on": ["", "2022-12-31", "2022-13-01"],
    "comms_status": ["", "OK", "FAILED", "failed"],
    "cos_credential": ["", "TCOS", "ECOS", "UNKNOWN", "NOT_APPLICABLE", "tcos"],
}


ON = date(2023, 7, 1)


def _both(values: tuple[str, ...]) -> bool:
    check = RowCheck("f.csv", "line 2")
    fields = dict(zip(INVENTORY_COLUMNS, values, strict=True))
    expected = build_record(check, fields, POLICY, on=ON)
    assert quick_record(values, POLICY, ON) == expected, values
    undated = build_record(RowCheck("f.csv", "line 2"), fields, POLICY)
    assert quick_record(values, POLICY) == undated, values
    return expected is not None


def test_quick_record_agrees_on_random_rows() -> None:
    rng = random.Random(11)
    # Mostly the first (valid) value of each column, so valid and invalid rows both occur.
    rows = (
        tuple(
            rng.choice(CHOICES[name]) if rng.random() < 0.15 else CHOICES[name][0]
            for name in INVENTORY_COLUMNS
        )
        for _ in range(20_000)
    )
    valid = sum(_both(row) for row in rows)
    assert 1000 < valid < 19_000


def test_quick_record_accepts_every_valid_kind() -> None:
    accepted = 0
    for device_type, generation, credential in itertools.product(
        CHOICES["device_type"], CHOICES["generation"], CHOICES["cos_credential"]
    ):
        values = dict.fromkeys(INVENTORY_COLUMNS, "")
        values.update(
            device_id="00DB1234567890A2",
            device_type=device_type,
            generation=generation,
            smi_status="Commissioned",
            manufacturer="AB01",
            model="010A030B",
            firmware_version="0002012F",
            chf_id="00DB1234567890A0",
            supplier_id="SUP1",
            commissioned_on="2023-01-01",
            cos_credential=credential,
        )
        row = tuple(values[name] for name in INVENTORY_COLUMNS)
        check = RowCheck("f.csv", "line 2")
        expected = build_record(check, values, POLICY)
        assert quick_record(row, POLICY) == expected
        accepted += expected is not None
    assert accepted > 0
