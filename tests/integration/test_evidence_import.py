"""Evidence import into the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ecos_migration.domain.device import DeviceModelKey
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.evidence import EvidenceKind, EvidenceSource
from ecos_migration.errors import InputError
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
from ecos_migration.inventory.evidence_import import import_evidence_file
from ecos_migration.inventory.importer import ImportOptions, InventoryFormat, import_inventory_file
from ecos_migration.inventory.model_listing import list_models
from ecos_migration.store.evidence import evidence_for_device
from ecos_migration.store.models import ensure_models, get_model

ON = date(2023, 7, 1)
NOW = datetime(2023, 7, 1, 12, tzinfo=UTC)
POLICY = EligibilityPolicy()
E1 = DeviceModelKey.parse("ESME/AB/E1/0001")


@pytest.fixture
def fleet(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "fleet.csv"
    path.write_text(
        ",".join(INVENTORY_COLUMNS)
        + "\n00DB000000000001,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,1,2022-01-01,,,TCOS\n"
    )
    import_inventory_file(engine, path, ImportOptions(InventoryFormat.CSV, ON, NOW, POLICY))
    return engine


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "evidence.csv"
    path.write_text(text)
    return path


def test_evidence_for_current_model(fleet: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference\n"
        "00-DB-00-00-00-00-00-01,CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS,2022-03-01,T1\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2022-04-01,\n",
    )
    result = import_evidence_file(fleet, path, ON)
    assert result.imported == 2
    with fleet.connect() as connection:
        items = evidence_for_device(connection, "00DB000000000001")
        model = get_model(connection, E1)
        listing = {str(s.record.key): s for s in list_models(connection, ON, POLICY)}
    assert [item.kind for item in items] == [
        EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS,
        EvidenceKind.SRV_6_23_SUCCESS,
    ]
    assert all(item.model_id == model.id for item in items)
    assert all(item.source is EvidenceSource.IMPORTED for item in items)
    assert items[1].reference is None
    assert listing[str(E1)].counts.evidence[EvidenceKind.SRV_6_23_SUCCESS] == 1


def test_evidence_reimport_skips(fleet: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference\n00DB000000000001,SRV_6_23_SUCCESS,2022-04-01,R\n",
    )
    import_evidence_file(fleet, path, ON)
    again = import_evidence_file(fleet, path, ON)
    assert again.imported == 0
    assert again.already_imported == 1


def test_evidence_named_model(fleet: Engine, tmp_path: Path) -> None:
    with fleet.begin() as connection:
        ensure_models(connection, [DeviceModelKey.parse("ESME/AB/E1/0009")])
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference,device_model\n"
        "00DB0000000000AA,CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS,2022-04-01,X,ESME/AB/E1/0009\n",
    )
    assert import_evidence_file(fleet, path, ON).imported == 1
    with fleet.connect() as connection:
        model = get_model(connection, DeviceModelKey.parse("ESME/AB/E1/0009"))
        items = evidence_for_device(connection, "00DB0000000000AA")
    assert items[0].model_id == model.id


def test_evidence_invalid_imports_nothing(fleet: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2022-04-01,ok\n"
        "00DB000000000001,SRV_6_24,2022-04-01,\n"
        "00DB000000000001,SRV_6_23_SUCCESS,April,\n"
        "00DB0000000000BB,SRV_6_23_SUCCESS,2022-04-01,\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2022-04-01,ok\n",
    )
    with pytest.raises(InputError) as error:
        import_evidence_file(fleet, path, ON)
    message = str(error.value)
    assert "line 3, column kind: value 'SRV_6_24'" in message
    assert "line 4, column occurred_on: value 'April'" in message
    assert (
        "line 5, column device_id: value '00DB0000000000BB': the device is not in the inventory"
        in message
    )
    assert "line 6, row: the same evidence is on line 2" in message
    with fleet.connect() as connection:
        assert evidence_for_device(connection, "00DB000000000001") == []


def test_evidence_unknown_model_rejected(fleet: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference,device_model\n"
        "00DB0000000000AA,CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS,2022-04-01,X,ESME/AB/E1/0009\n",
    )
    with pytest.raises(InputError) as error:
        import_evidence_file(fleet, path, ON)
    message = str(error.value)
    assert str(path) in message
    assert "line 2, column device_model: value 'ESME/AB/E1/0009'" in message
    assert "no such Device Model in the store" in message
    with fleet.connect() as connection:
        assert evidence_for_device(connection, "00DB0000000000AA") == []
        assert [str(m.record.key) for m in list_models(connection, ON, POLICY)] == [str(E1)]


def test_evidence_earlier_model_allowed(fleet: Engine, tmp_path: Path) -> None:
    with fleet.begin() as connection:
        ensure_models(connection, [DeviceModelKey.parse("ESME/AB/E1/0000")])
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference,device_model\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2022-04-01,X,ESME/AB/E1/0000\n",
    )
    assert import_evidence_file(fleet, path, ON).imported == 1
    with fleet.connect() as connection:
        model = get_model(connection, DeviceModelKey.parse("ESME/AB/E1/0000"))
        items = evidence_for_device(connection, "00DB000000000001")
    assert items[0].model_id == model.id


def test_evidence_future_date_rejected(fleet: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2023-07-01,today\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2099-01-01,later\n",
    )
    with pytest.raises(InputError) as error:
        import_evidence_file(fleet, path, ON)
    message = str(error.value)
    assert "line 3, column occurred_on: value '2099-01-01'" in message
    assert "later than the import date 2023-07-01" in message
    assert "line 2," not in message
    with fleet.connect() as connection:
        assert evidence_for_device(connection, "00DB000000000001") == []


def test_evidence_unclosed_quote(fleet: Engine, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,kind,occurred_on,reference\n"
        "00DB000000000001,SRV_6_23_SUCCESS,2022-04-01,ok\n"
        '00DB000000000001,SRV_6_23_SUCCESS,2022-04-02,"open\n'
        "00DB000000000001,SRV_6_23_SUCCESS,2022-04-03,ok\n",
    )
    with pytest.raises(InputError) as error:
        import_evidence_file(fleet, path, ON)
    assert f"{path}: line 3: a quote is not closed" in str(error.value)
