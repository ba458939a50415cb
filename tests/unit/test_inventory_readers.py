"""The CSV and DSPInventory readers: every kind of mistake is found and located."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from ecos_migration.domain.device import Credential, DeviceType, Generation, SmiStatus
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.errors import InputError
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS, read_inventory_csv
from ecos_migration.inventory.duis_reader import read_dsp_inventory
from ecos_migration.inventory.problems import Problem, describe_problems

POLICY = EligibilityPolicy()
HEADER = ",".join(INVENTORY_COLUMNS)
GOOD_ESME = (
    "00DB1234567890A2,ESME,SMETS2,Commissioned,AB01,010A030B,0002012F,,SUP1,123,2023-01-01,,,TCOS"
)


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "inventory.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _problems(path: Path) -> list[Problem]:
    return [p for row in read_inventory_csv(path, POLICY) for p in row.problems]


def test_csv_valid_row(tmp_path: Path) -> None:
    rows = list(read_inventory_csv(_write(tmp_path, HEADER, GOOD_ESME), POLICY))
    assert len(rows) == 1
    record = rows[0].record
    assert record is not None
    assert record.id == "00DB1234567890A2"
    assert record.generation is Generation.SMETS2
    assert record.credential is Credential.TCOS
    assert str(record.model_key) == "ESME/AB01/010A030B/0002012F"


def test_csv_hyphenated_lower_case_id(tmp_path: Path) -> None:
    line = GOOD_ESME.replace("00DB1234567890A2", "00-db-12-34-56-78-90-a2")
    record = next(iter(read_inventory_csv(_write(tmp_path, HEADER, line), POLICY))).record
    assert record is not None
    assert record.id == "00DB1234567890A2"


def test_csv_empty_credential_defaults(tmp_path: Path) -> None:
    esme = GOOD_ESME.replace(",TCOS", ",")
    chf = "00DB1234567890A0,CHF,SMETS2,Commissioned,,,,,,,,,,"
    smets1 = "00DB1234567890A3,ESME,SMETS1,Commissioned,,,,,,,,,FAILED,"
    rows = list(read_inventory_csv(_write(tmp_path, HEADER, esme, chf, smets1), POLICY))
    records = [row.record for row in rows]
    assert all(r is not None for r in records)
    assert records[0] is not None and records[0].credential is Credential.UNKNOWN
    assert records[1] is not None and records[1].credential is Credential.NOT_APPLICABLE
    assert records[2] is not None and records[2].credential is Credential.NOT_APPLICABLE
    assert records[2].comms_status.value == "FAILED"
    assert records[0].comms_status.value == "OK"


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("device_id", "00DB12345678", "EUI-64"),
        ("device_type", "Meter", "expected one of"),
        ("generation", "SMETS3", "expected one of"),
        ("smi_status", "commissioned", "expected one of"),
        ("commissioned_on", "01/02/2023", "ISO date"),
        ("last_change_of_supplier_on", "2023-02-30", "not a real calendar date"),
        ("comms_status", "BROKEN", "expected one of"),
        ("cos_credential", "NOT_APPLICABLE", "expected one of"),
        ("chf_id", "xyz", "EUI-64"),
        ("manufacturer", "", "required for a SMETS2 ESME"),
        ("model", "", "required for a SMETS2 ESME"),
        ("firmware_version", "", "required for a SMETS2 ESME"),
        ("supplier_id", "", "required for a SMETS2 ESME"),
        ("mpxn", "9" * 40, "at most 32"),
        ("supplier_id", "S" * 33, "at most 32 characters"),
        ("supplier_id", "../../../tmp/x", "starting with a letter or digit"),
        ("supplier_id", ".", "starting with a letter or digit"),
        ("supplier_id", "..", "starting with a letter or digit"),
        ("supplier_id", "SUP 1", "letters, digits, '-', '_' and '.'"),
        ("supplier_id", "SUP;1", "letters, digits, '-', '_' and '.'"),
    ],
)
def test_csv_invalid_field(tmp_path: Path, column: str, value: str, expected: str) -> None:
    fields = dict(zip(INVENTORY_COLUMNS, GOOD_ESME.split(","), strict=True))
    fields[column] = value
    path = _write(tmp_path, HEADER, ",".join(fields.values()))
    problems = _problems(path)
    assert len(problems) == 1
    assert problems[0].location == "line 2"
    assert problems[0].column == column
    assert problems[0].value == value
    assert expected in problems[0].expected


def test_csv_gpf_needs_hub(tmp_path: Path) -> None:
    gpf = "00DB1234567890A1,GPF,SMETS2,Commissioned,M,H1,01,,SUP1,,,,,"
    problems = _problems(_write(tmp_path, HEADER, gpf))
    assert [p.column for p in problems] == ["chf_id"]
    assert "communications hub" in problems[0].expected


def test_csv_smets1_needs_no_model(tmp_path: Path) -> None:
    smets1 = "00DB1234567890A3,GSME,SMETS1,Commissioned,,,,,,,,,,"
    assert _problems(_write(tmp_path, HEADER, smets1)) == []


def test_csv_partial_model_invalid(tmp_path: Path) -> None:
    chf = "00DB1234567890A0,CHF,SMETS2,Commissioned,MFG,,,,,,,,,"
    problems = _problems(_write(tmp_path, HEADER, chf))
    assert len(problems) == 1
    assert "together" in problems[0].expected


def test_csv_wrong_field_count(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, HEADER, "00DB1234567890A2,ESME"))
    assert len(problems) == 1
    assert "expected 14 fields, found 2" in problems[0].expected


def test_csv_every_problem_of_row(tmp_path: Path) -> None:
    line = "zz,Meter,SMETS9,Gone,,,,,,,yesterday,,BAD,MAYBE"
    problems = _problems(_write(tmp_path, HEADER, line))
    columns = {p.column for p in problems}
    assert {
        "device_id",
        "device_type",
        "generation",
        "smi_status",
        "commissioned_on",
        "comms_status",
        "cos_credential",
    } <= columns


def test_csv_unknown_and_missing_columns(tmp_path: Path) -> None:
    header = HEADER.replace(",mpxn", ",colour")
    with pytest.raises(InputError) as error:
        list(read_inventory_csv(_write(tmp_path, header, GOOD_ESME), POLICY))
    message = str(error.value)
    assert "column colour" in message
    assert "unknown column" in message
    assert "column mpxn: missing column" in message


def test_csv_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InputError, match="empty"):
        list(read_inventory_csv(path, POLICY))


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        (HEADER + "\n" + GOOD_ESME.replace("AB01", "AB\xe901") + "\n").encode("latin-1")
    )
    with pytest.raises(InputError, match="UTF-8"):
        list(read_inventory_csv(path, POLICY))


def test_problem_list_is_capped() -> None:
    problems = [Problem("f.csv", f"line {n}", "device_id", "x", "bad") for n in range(60)]
    message = describe_problems("f.csv", problems, 75)
    assert "75 problem(s)" in message
    assert "line 49" in message
    assert "line 50," not in message
    assert "and 25 more" in message


def test_duis_sample(smartdcc: Path) -> None:
    path = smartdcc / "duis" / "signed" / "read-inventory-response-4g.xml"
    rows = list(read_dsp_inventory(path, POLICY))
    assert [row.problems for row in rows] == [[], []]
    chf, gpf = (row.record for row in rows)
    assert chf is not None and gpf is not None
    assert chf.id == "0011223344556677"
    assert chf.device_type is DeviceType.CHF
    assert chf.generation is Generation.SMETS2
    assert chf.smi_status is SmiStatus.PENDING
    assert gpf.device_type is DeviceType.GPF
    assert gpf.chf_id is None
    assert gpf.credential is Credential.UNKNOWN
    assert str(gpf.model_key) == "GPF/MFG1/9001/9001"
    assert rows[1].location.endswith("DSPInventory/Device[2] (line 1)")


_HOSTILE_BODY = (
    '<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"><sr:Body>'
    "<sr:ResponseMessage><sr:DSPInventory><sr:Device>"
    "<sr:DeviceID>00-11-22-33-44-55-66-77</sr:DeviceID><sr:DeviceType>CHF</sr:DeviceType>"
    "<sr:DeviceStatus>Pending</sr:DeviceStatus><sr:DeviceManufacturer>&x;</sr:DeviceManufacturer>"
    "<sr:DeviceModel>1</sr:DeviceModel><sr:SMETSCHTSVersion>CHTS V1</sr:SMETSCHTSVersion>"
    "<sr:DeviceFirmwareVersion>1</sr:DeviceFirmwareVersion>"
    "</sr:Device></sr:DSPInventory></sr:ResponseMessage></sr:Body></sr:Response>"
)


def test_duis_external_entity_rejected(smartdcc: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>' + _HOSTILE_BODY
    )
    with pytest.raises(InputError) as caught:
        list(read_dsp_inventory(hostile, POLICY))
    message = str(caught.value)
    assert str(hostile) in message
    assert "declares a DOCTYPE or entities, which are not accepted" in message
    assert "TOPSECRET" not in message
    assert (smartdcc / "duis" / "signed" / "duis-xxe.xml").exists()


def test_duis_doctype_after_long_prolog(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.xml"
    hostile.write_text(
        '<?xml version="1.0"?><!--'
        + "x" * 70_000
        + '--><!DOCTYPE r [<!ENTITY x "y">]>'
        + _HOSTILE_BODY
    )
    with pytest.raises(InputError, match="declares a DOCTYPE or entities"):
        list(read_dsp_inventory(hostile, POLICY))


def test_duis_utf16_doctype_rejected(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.xml"
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]>' + _HOSTILE_BODY
    hostile.write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match="declares a DOCTYPE or entities"):
        list(read_dsp_inventory(hostile, POLICY))


def test_duis_problems_name_element(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(
        '<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"><sr:Body>'
        "<sr:ResponseMessage><sr:DSPInventory>\n<sr:Device>"
        "<sr:DeviceID>00-11</sr:DeviceID><sr:DeviceType>ESME</sr:DeviceType>"
        "<sr:DeviceStatus>Commissioned</sr:DeviceStatus><sr:DeviceManufacturer>M</sr:DeviceManufacturer>"
        "<sr:DeviceModel>1</sr:DeviceModel><sr:SMETSCHTSVersion>SMETS2 V4</sr:SMETSCHTSVersion>"
        "</sr:Device></sr:DSPInventory></sr:ResponseMessage></sr:Body></sr:Response>"
    )
    rows = list(read_dsp_inventory(path, POLICY))
    columns = {p.column for p in rows[0].problems}
    assert columns == {"DeviceID", "DeviceFirmwareVersion"}
    assert rows[0].location == "/Response/Body/ResponseMessage/DSPInventory/Device[1] (line 2)"


def test_duis_not_inventory(smartdcc: Path) -> None:
    with pytest.raises(InputError, match="DSPInventory"):
        list(read_dsp_inventory(smartdcc / "duis" / "signed" / "readfw-response.xml", POLICY))


def test_duis_malformed(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<a><b></a>")
    with pytest.raises(InputError, match="invalid XML"):
        list(read_dsp_inventory(path, POLICY))


def test_duis_missing_version(tmp_path: Path) -> None:
    path = tmp_path / "noversion.xml"
    path.write_text(
        '<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"><sr:Body>'
        "<sr:ResponseMessage><sr:DSPInventory><sr:Device>"
        "<sr:DeviceID>00-11-22-33-44-55-66-78</sr:DeviceID><sr:DeviceType>ESME</sr:DeviceType>"
        "<sr:DeviceStatus>Commissioned</sr:DeviceStatus>"
        "<sr:DeviceManufacturer>M</sr:DeviceManufacturer><sr:DeviceModel>1</sr:DeviceModel>"
        "<sr:DeviceFirmwareVersion>1</sr:DeviceFirmwareVersion>"
        "</sr:Device></sr:DSPInventory></sr:ResponseMessage></sr:Body></sr:Response>"
    )
    rows = list(read_dsp_inventory(path, POLICY))
    assert [p.column for p in rows[0].problems] == ["SMETSCHTSVersion"]
    assert "SMETS1, SMETS2 or CHTS" in rows[0].problems[0].expected


def test_csv_supplier_id_safe_form_accepted(tmp_path: Path) -> None:
    fields = dict(zip(INVENTORY_COLUMNS, GOOD_ESME.split(","), strict=True))
    fields["supplier_id"] = "Sup-1_A.b"
    rows = list(read_inventory_csv(_write(tmp_path, HEADER, ",".join(fields.values())), POLICY))
    assert rows[0].problems == []
    assert rows[0].record is not None
    assert rows[0].record.supplier_id == "Sup-1_A.b"


def test_csv_commissioned_after_snapshot(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER, GOOD_ESME)
    on_day = [p for row in read_inventory_csv(path, POLICY, date(2023, 1, 1)) for p in row.problems]
    assert on_day == []
    problems = [
        p for row in read_inventory_csv(path, POLICY, date(2022, 12, 31)) for p in row.problems
    ]
    assert len(problems) == 1
    assert problems[0].column == "commissioned_on"
    assert problems[0].value == "2023-01-01"
    assert "later than the snapshot date 2022-12-31" in problems[0].expected


def test_csv_unclosed_quote(tmp_path: Path) -> None:
    fields = GOOD_ESME.split(",")
    fields[9] = '"123'
    path = _write(tmp_path, HEADER, GOOD_ESME, ",".join(fields), GOOD_ESME)
    with pytest.raises(InputError) as caught:
        list(read_inventory_csv(path, POLICY))
    message = str(caught.value)
    assert f"{path}: line 3: a quote is not closed" in message


def test_csv_field_too_long(tmp_path: Path) -> None:
    fields = GOOD_ESME.split(",")
    fields[9] = "9" * (csv.field_size_limit() + 1)
    path = _write(tmp_path, HEADER, GOOD_ESME, ",".join(fields))
    with pytest.raises(InputError) as caught:
        list(read_inventory_csv(path, POLICY))
    message = str(caught.value)
    assert f"{path}: line 3: a field is too long" in message
    assert f"the limit is {csv.field_size_limit()} characters" in message


def test_csv_impossible_date_named(tmp_path: Path) -> None:
    fields = GOOD_ESME.split(",")
    fields[10] = "2019-02-30"
    problems = _problems(_write(tmp_path, HEADER, ",".join(fields)))
    assert [p.column for p in problems] == ["commissioned_on"]
    assert problems[0].expected == "not a real calendar date (YYYY-MM-DD)"


def test_csv_raw_keeps_original_fields(tmp_path: Path) -> None:
    padded = GOOD_ESME.replace(",SUP1,", ", SUP1 ,")
    path = _write(tmp_path, HEADER, padded, "00DB1234567890A3,ESME", GOOD_ESME + ",extra")
    valid, short, long = read_inventory_csv(path, POLICY)
    assert valid.record is not None
    assert valid.raw == dict(zip(INVENTORY_COLUMNS, padded.split(","), strict=True))
    assert short.raw == {"device_id": "00DB1234567890A3", "device_type": "ESME"}
    assert long.raw == dict(zip(INVENTORY_COLUMNS, GOOD_ESME.split(","), strict=True))


def test_csv_reordered_columns_read_alike(tmp_path: Path) -> None:
    columns = list(reversed(INVENTORY_COLUMNS))
    fields = dict(zip(INVENTORY_COLUMNS, GOOD_ESME.split(","), strict=True))
    reordered = ",".join(fields[name] for name in columns)
    in_order = list(read_inventory_csv(_write(tmp_path, HEADER, GOOD_ESME), POLICY))
    path = tmp_path / "reordered.csv"
    path.write_text(",".join(columns) + "\n" + reordered + "\n")
    reversed_rows = list(read_inventory_csv(path, POLICY))
    assert reversed_rows[0].record is not None
    assert reversed_rows[0].record == in_order[0].record
