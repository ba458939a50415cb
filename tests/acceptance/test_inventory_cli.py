"""The inventory, models, evidence and eligibility commands run as a process on real files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecos_migration.domain.eligibility import Reason
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS

HEADER = ",".join(INVENTORY_COLUMNS)
FLEET = [
    "00DB000000000010,CHF,SMETS2,Commissioned,HB,H1,01,,,,2022-01-01,,,",
    "00DB000000000011,GPF,SMETS2,Commissioned,HB,H1,01,00DB000000000010,SUP1,,2022-01-01,,,TCOS",
    "00DB000000000012,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,1,2022-01-01,,,TCOS",
    "00DB000000000013,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,2,2022-01-01,,,TCOS",
    "00DB000000000014,GSME,SMETS2,Commissioned,CD,G1,0001,,SUP1,3,2023-06-25,,,TCOS",
    "00DB000000000015,GSME,SMETS1,Commissioned,,,,,,,,,,",
]


def _run(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ecos_migration", "--db", f"sqlite:///{db}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    _run(path, "init")
    return path


def _csv(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def _eligibility(db: Path, on: str = "2023-07-01") -> dict[str, object]:
    data: dict[str, object] = json.loads(_run(db, "eligibility", "--on", on, "--json").stdout)
    return data


def test_csv_with_every_mistake(db: Path, tmp_path: Path) -> None:
    rows = [
        *FLEET,
        "00DB00000000001,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,,,,,TCOS",
        "00DB000000000021,Meter,SMETS2,Commissioned,AB,E1,0001,,SUP1,,,,,TCOS",
        "00DB000000000022,ESME,SMETS3,Commissioned,AB,E1,0001,,SUP1,,,,,TCOS",
        "00DB000000000023,ESME,SMETS2,Live,AB,E1,0001,,SUP1,,,,,TCOS",
        "00DB000000000024,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,,2023-13-01,,,TCOS",
        "00DB000000000025,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,,,1 May 2023,,TCOS",
        "00DB000000000026,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,,,,DOWN,TCOS",
        "00DB000000000027,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,,,,,ECoS",
        "00DB000000000028,ESME,SMETS2,Commissioned,,E1,0001,,SUP1,,,,,TCOS",
        "00DB000000000029,GSME,SMETS2,Commissioned,CD,G1,0001,,,,,,,TCOS",
        "00DB000000000030,GPF,SMETS2,Commissioned,HB,H1,01,,SUP1,,,,,TCOS",
        "00DB000000000031,GPF,SMETS2,Commissioned,HB,H1,01,00DB00000000003G,SUP1,,,,,TCOS",
        "00DB000000000012,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,1,2022-01-01,,,TCOS",
        "00DB000000000033,ESME",
    ]
    path = _csv(tmp_path, "mistakes.csv", rows)
    result = _run(db, "inventory", "import", str(path), "--on", "2023-07-01", check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    expected = [
        "line 8, column device_id: value '00DB00000000001': expected an EUI-64",
        "line 9, column device_type: value 'Meter': expected one of ESME",
        "line 10, column generation: value 'SMETS3': expected one of SMETS1, SMETS2",
        "line 11, column smi_status: value 'Live': expected one of Pending",
        "line 12, column commissioned_on: value '2023-13-01': not a real calendar date",
        "line 13, column last_change_of_supplier_on: value '1 May 2023': expected an ISO date",
        "line 14, column comms_status: value 'DOWN': expected one of OK, FAILED",
        "line 15, column cos_credential: value 'ECoS': expected one of TCOS, ECOS, UNKNOWN",
        "line 16, column manufacturer: value '': required for a SMETS2 ESME",
        "line 17, column supplier_id: value '': required for a SMETS2 GSME",
        "line 18, column chf_id: value '': required for a GPF",
        "line 19, column chf_id: value '00DB00000000003G': expected an EUI-64",
        "line 20, column device_id: value '00DB000000000012': duplicate of the device on line 4",
        "line 21, row: expected 14 fields, found 2",
        "14 problem(s) found, nothing was imported",
    ]
    for text in expected:
        assert text in message, text
    assert "Traceback" not in result.stderr
    assert _eligibility(db)["devices"] == 0


def test_unknown_and_missing_columns(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "columns.csv"
    path.write_text(HEADER.replace("mpxn", "meter_point") + "\n" + FLEET[0] + "\n")
    result = _run(db, "inventory", "import", str(path), check=False)
    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert "column meter_point: value 'meter_point': unknown column" in message
    assert "column mpxn: missing column" in message


def test_skip_invalid_with_rejects(db: Path, tmp_path: Path) -> None:
    rows = [*FLEET, "00DB000000000040,ESME,SMETS2,Commissioned,AB,E1,0001,,,,,,,TCOS"]
    path = _csv(tmp_path, "mixed.csv", rows)
    rejects = tmp_path / "rejects.csv"
    missing = _run(db, "inventory", "import", str(path), "--skip-invalid", check=False)
    assert missing.returncode == 2
    assert "--rejects" in missing.stderr
    _run(db, "inventory", "import", str(path), "--skip-invalid", "--rejects", str(rejects))
    with rejects.open() as handle:
        rejected = list(csv.DictReader(handle))
    assert len(rejected) == 1
    assert rejected[0]["line"] == "8"
    assert rejected[0]["device_id"] == "00DB000000000040"
    assert "supplier_id" in rejected[0]["reason"]
    assert _eligibility(db)["devices"] == len(FLEET)


def test_public_dsp_inventory_sample(db: Path, smartdcc: Path) -> None:
    sample = smartdcc / "duis" / "signed" / "read-inventory-response-4g.xml"
    result = _run(db, "inventory", "import", "--format", "duis", str(sample), "--on", "2025-07-14")
    output = " ".join(result.stdout.split())
    assert "2 added" in output
    assert "does not carry these fields: chf_id, comms_status, cos_credential" in output
    gpf = json.loads(_run(db, "device", "show", "00-11-22-33-FF-55-66-77", "--json").stdout)
    assert gpf["device"]["device_type"] == "GPF"
    assert gpf["device"]["smi_status"] == "Pending"
    assert gpf["device"]["credential"] == "UNKNOWN"
    assert gpf["model"] == "GPF/MFG1/9001/9001"
    assert gpf["eligibility"]["reason"] == "NOT_COMMISSIONED"


def test_reimport_moves_models(db: Path, tmp_path: Path) -> None:
    _run(db, "inventory", "import", str(_csv(tmp_path, "a.csv", FLEET)), "--on", "2023-07-01")
    upgraded = [row.replace(",0001,,SUP1,1,", ",0002,,SUP1,1,") for row in FLEET]
    _run(db, "inventory", "import", str(_csv(tmp_path, "b.csv", upgraded)), "--on", "2023-07-10")
    models = {m["model"]: m for m in json.loads(_run(db, "models", "--json").stdout)}
    assert models["ESME/AB/E1/0001"]["devices"] == 1
    assert models["ESME/AB/E1/0002"]["devices"] == 1
    assert models["ESME/AB/E1/0001"]["upgrade_targets"] == ["ESME/AB/E1/0002"]
    shown = json.loads(_run(db, "device", "show", "00db000000000012", "--json").stdout)
    moves = [e for e in shown["events"] if e["field"] == "model_id"]
    assert len(moves) == 1
    assert moves[0]["old_value"] == "ESME/AB/E1/0001"
    assert moves[0]["new_value"] == "ESME/AB/E1/0002"
    assert moves[0]["occurred_on"] == "2023-07-10"
    assert shown["model"] == "ESME/AB/E1/0002"


def test_eligibility_json_shape(db: Path, tmp_path: Path) -> None:
    _run(db, "inventory", "import", str(_csv(tmp_path, "a.csv", FLEET)), "--on", "2023-07-01")
    data = _eligibility(db)
    assert set(data) >= {"on", "devices", "in_scope", "eligible", "ineligible", "by_device_type"}
    assert data["on"] == "2023-07-01"
    assert data["devices"] == 6
    assert data["in_scope"] == 4
    assert data["eligible"] == 3
    ineligible = data["ineligible"]
    assert isinstance(ineligible, dict)
    assert list(ineligible) == [reason.value for reason in Reason]
    assert ineligible["RECENTLY_COMMISSIONED"] == 1
    assert ineligible["OUT_OF_SCOPE_SMETS1"] == 1
    assert ineligible["OUT_OF_SCOPE_DEVICE_TYPE"] == 1
    assert data["by_device_type"] == {
        "CHF": {"devices": 1, "eligible": 0},
        "ESME": {"devices": 2, "eligible": 2},
        "GPF": {"devices": 1, "eligible": 1},
        "GSME": {"devices": 2, "eligible": 0},
    }
    later = _eligibility(db, "2023-07-09")
    assert later["eligible"] == 4
    table = _run(db, "eligibility", "--on", "2023-07-01").stdout
    assert "RECENTLY_COMMISSIONED" in table
    assert "GPF_HUB_NOT_COMMISSIONED" in table


def test_device_show_until(db: Path, tmp_path: Path) -> None:
    _run(db, "inventory", "import", str(_csv(tmp_path, "a.csv", FLEET)), "--on", "2023-07-01")
    shown = json.loads(
        _run(db, "device", "show", "00-DB-00-00-00-00-00-14", "--on", "2023-07-01", "--json").stdout
    )
    assert shown["eligibility"]["reason"] == "RECENTLY_COMMISSIONED"
    assert shown["eligibility"]["eligible_again_on"] == "2023-07-09"
    assert shown["events"][0]["kind"] == "DEVICE_ADDED"
    missing = _run(db, "device", "show", "00DB0000000000FF", check=False)
    assert missing.returncode == 1
    assert "not in the inventory" in missing.stderr


def test_model_controls_cli(db: Path, tmp_path: Path) -> None:
    _run(db, "inventory", "import", str(_csv(tmp_path, "a.csv", FLEET)), "--on", "2023-07-01")
    model = "ESME/AB/E1/0001"
    _run(db, "models", "suspend", model, "--reason", "defect triage", "--actor", "alice")
    assert _eligibility(db)["ineligible"]["MODEL_SUSPENDED"] == 2  # type: ignore[index]
    wrong = _run(db, "models", "migratable", model, "--reason", "x", check=False)
    assert wrong.returncode == 1
    assert "not Non-Migratable" in wrong.stderr
    _run(db, "models", "resume", "--all", "--reason", "fixed")
    _run(db, "models", "non-migratable", model, "--reason", "rejects the command")
    _run(db, "models", "appeal", model, "--by", "SUP1", "--status", "lodged")
    _run(db, "models", "appeal", model, "--by", "SUP1", "--status", "overturned", "--note", "ok")
    listed = {m["model"]: m for m in json.loads(_run(db, "models", "--json").stdout)}
    assert listed[model]["state"] == "NEW"
    assert listed[model]["eligible"] == 2
    both = _run(db, "models", "suspend", model, "--all", "--reason", "x", check=False)
    assert both.returncode == 2


def test_evidence_and_upgrades_cli(db: Path, tmp_path: Path) -> None:
    _run(db, "inventory", "import", str(_csv(tmp_path, "a.csv", FLEET)), "--on", "2023-07-01")
    evidence = tmp_path / "evidence.csv"
    evidence.write_text(
        "device_id,kind,occurred_on,reference\n"
        "00DB000000000012,CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS,2022-05-01,T-1\n"
        "00DB000000000013,SRV_6_23_SUCCESS,2022-06-01,S-1\n"
    )
    _run(db, "evidence", "import", str(evidence))
    listed = {m["model"]: m for m in json.loads(_run(db, "models", "--json").stdout)}
    assert listed["ESME/AB/E1/0001"]["evidence"] == {
        "CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS": 1,
        "CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS": 0,
        "SRV_6_23_SUCCESS": 1,
    }
    shown = json.loads(_run(db, "device", "show", "00DB000000000013", "--json").stdout)
    assert shown["evidence"][0]["kind"] == "SRV_6_23_SUCCESS"
    upgrades = tmp_path / "upgrades.csv"
    upgrades.write_text("from_model,to_model\nESME/AB/E1/0001,ESME/AB/E1/0009\n")
    _run(db, "models", "upgrades", "import", str(upgrades))
    listed = {m["model"]: m for m in json.loads(_run(db, "models", "--json").stdout)}
    assert listed["ESME/AB/E1/0001"]["upgrade_targets"] == ["ESME/AB/E1/0009"]
    bad = tmp_path / "bad-upgrades.csv"
    bad.write_text("from_model,to_model\nESME/AB/E1,ESME/AB/E1/0009\n")
    result = _run(db, "models", "upgrades", "import", str(bad), check=False)
    assert result.returncode == 1
    assert "line 2, column from_model" in " ".join(result.stderr.split())


def test_evidence_import_on_date(db: Path, tmp_path: Path) -> None:
    _run(db, "inventory", "import", str(_csv(tmp_path, "a.csv", FLEET)), "--on", "2023-07-01")
    evidence = tmp_path / "evidence.csv"
    evidence.write_text(
        "device_id,kind,occurred_on,reference\n00DB000000000012,SRV_6_23_SUCCESS,2023-07-02,S-1\n"
    )
    early = _run(db, "evidence", "import", str(evidence), "--on", "2023-07-01", check=False)
    assert early.returncode == 1
    assert "later than the import date 2023-07-01" in " ".join(early.stderr.split())
    _run(db, "evidence", "import", str(evidence), "--on", "2023-07-02")
