"""Inventory import into the store, on SQLite and PostgreSQL: load, re-import, summaries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, update

from ecos_migration.domain.device import MigrationState
from ecos_migration.domain.eligibility import EligibilityPolicy, Reason, evaluate
from ecos_migration.domain.models import ModelState, model_condition
from ecos_migration.errors import InputError
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
from ecos_migration.inventory.duis_reader import DUIS_DEVICE_ELEMENTS
from ecos_migration.inventory.importer import (
    ImportOptions,
    InventoryFormat,
    import_inventory_file,
)
from ecos_migration.inventory.rejects import RejectsWriter
from ecos_migration.store.eligibility import facts_from_row, facts_select, summarise_eligibility
from ecos_migration.store.events import device_events
from ecos_migration.store.schema import device, device_model

ON = date(2023, 7, 1)
NOW = datetime(2023, 7, 1, 12, tzinfo=UTC)
POLICY = EligibilityPolicy()
HEADER = ",".join(INVENTORY_COLUMNS)

FLEET = [
    # A GPF listed before its hub, to exercise the evaluation after the load.
    "00DB000000000011,GPF,SMETS2,Commissioned,HB,H1,01,00DB000000000010,SUP1,,2022-01-01,,,TCOS",
    "00DB000000000010,CHF,SMETS2,Commissioned,HB,H1,01,,,,2022-01-01,,,",
    "00DB000000000012,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,1,2022-01-01,,,TCOS",
    "00DB000000000013,GSME,SMETS2,Commissioned,CD,G1,0001,,SUP1,2,2023-06-25,,,TCOS",
    "00DB000000000020,CHF,SMETS2,Pending,HB,H1,01,,,,,,,",
    "00DB000000000021,GPF,SMETS2,InstalledNotCommissioned,HB,H1,01,00DB000000000020,SUP2,,,,,TCOS",
    "00DB000000000022,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP2,3,2022-01-01,2023-06-20,,TCOS",
    "00DB000000000023,ESME,SMETS2,Commissioned,AB,E1,0002,,SUP2,4,2022-01-01,,FAILED,TCOS",
    "00DB000000000024,ESME,SMETS2,Commissioned,AB,E1,0002,,SUP2,5,2022-01-01,,,",
    "00DB000000000025,ESME,SMETS2,Commissioned,AB,E1,0002,,SUP2,6,2022-01-01,,,ECOS",
    "00DB000000000026,GSME,SMETS1,Commissioned,,,,,,,,,,",
    "00DB000000000027,IHD,SMETS2,Commissioned,IH,D1,1,,,,,,,",
    "00DB000000000031,GPF,SMETS2,Commissioned,HB,H1,01,00DB0000000000FF,SUP3,,2022-01-01,,,TCOS",
]


def _options(**overrides: object) -> ImportOptions:
    values: dict[str, object] = {
        "format": InventoryFormat.CSV,
        "on": ON,
        "now": NOW,
        "policy": POLICY,
    }
    values.update(overrides)
    return ImportOptions(**values)  # type: ignore[arg-type]


def _csv(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def _reasons(engine: Engine, on: date = ON) -> dict[str, Reason | None]:
    """Evaluate every device directly with the rule, bypassing the cached result."""
    with engine.connect() as connection:
        states = dict(connection.execute(select(device_model.c.id, device_model.c.state)).all())
        rows = connection.execute(facts_select().add_columns(device.c.model_id))
        result: dict[str, Reason | None] = {}
        for row in rows:
            state = states.get(row.model_id)
            condition = (
                model_condition(ModelState(state)) if state else model_condition(ModelState.NEW)
            )
            result[row.id] = evaluate(facts_from_row(row._mapping), condition, on, POLICY)
    return result


def _stored(engine: Engine) -> dict[str, str | None]:
    with engine.connect() as connection:
        return dict(connection.execute(select(device.c.id, device.c.reason)).all())


def test_import_into_empty_store(engine: Engine, tmp_path: Path) -> None:
    result = import_inventory_file(engine, _csv(tmp_path, "a.csv", FLEET), _options())
    assert result.bulk_path
    assert result.inserted == len(FLEET)
    assert result.events == len(FLEET)
    expected = _reasons(engine)
    assert expected["00DB000000000011"] is None
    assert expected["00DB000000000021"] is Reason.GPF_HUB_NOT_COMMISSIONED
    assert expected["00DB000000000031"] is Reason.GPF_HUB_NOT_COMMISSIONED
    assert expected["00DB000000000013"] is Reason.RECENTLY_COMMISSIONED
    assert expected["00DB000000000022"] is Reason.RECENT_CHANGE_OF_SUPPLIER
    assert expected["00DB000000000023"] is Reason.COMMS_FAILURE
    assert expected["00DB000000000024"] is Reason.CREDENTIAL_UNKNOWN
    assert expected["00DB000000000025"] is Reason.ALREADY_ECOS
    assert expected["00DB000000000026"] is Reason.OUT_OF_SCOPE_SMETS1
    assert expected["00DB000000000027"] is Reason.OUT_OF_SCOPE_DEVICE_TYPE
    stored = _stored(engine)
    assert stored == {key: value.value if value else None for key, value in expected.items()}


def test_bulk_and_upsert_paths_agree(engine: Engine, tmp_path: Path) -> None:
    import_inventory_file(engine, _csv(tmp_path, "first.csv", FLEET[:1]), _options())
    result = import_inventory_file(engine, _csv(tmp_path, "rest.csv", FLEET[1:]), _options())
    assert not result.bulk_path
    assert result.inserted == len(FLEET) - 1
    expected = _reasons(engine)
    assert _stored(engine) == {k: v.value if v else None for k, v in expected.items()}


def test_summary_equals_direct_evaluation(engine: Engine, tmp_path: Path) -> None:
    import_inventory_file(engine, _csv(tmp_path, "a.csv", FLEET), _options())
    with engine.begin() as connection:
        connection.execute(
            update(device_model)
            .where(device_model.c.firmware_version == "0002")
            .values(state=ModelState.SUSPENDED.value)
        )
    for on in (ON, date(2023, 7, 10), date(2023, 8, 1)):
        expected = _reasons(engine, on)
        with engine.connect() as connection:
            summary = summarise_eligibility(connection, on, POLICY)
        assert summary.devices == len(FLEET)
        assert summary.eligible == sum(1 for r in expected.values() if r is None)
        for reason in Reason:
            assert summary.ineligible[reason] == sum(1 for r in expected.values() if r is reason)


def test_reimport_records_changes(engine: Engine, tmp_path: Path) -> None:
    import_inventory_file(engine, _csv(tmp_path, "a.csv", FLEET), _options())
    changed = [
        row.replace(",0001,,SUP1,1,", ",0002,,SUP9,1,")
        if row.startswith("00DB000000000012")
        else row
        for row in FLEET
    ]
    changed = [
        row.replace(
            "00DB000000000020,CHF,SMETS2,Pending", "00DB000000000020,CHF,SMETS2,Commissioned"
        )
        for row in changed
    ]
    later = date(2023, 7, 5)
    result = import_inventory_file(engine, _csv(tmp_path, "b.csv", changed), _options(on=later))
    assert result.updated == 2
    assert result.unchanged == len(FLEET) - 2
    with engine.connect() as connection:
        events = device_events(connection, "00DB000000000012")
        hub_events = device_events(connection, "00DB000000000020")
    changes = {
        (e["field"], e["old_value"], e["new_value"]) for e in events if e["kind"] == "FACT_CHANGED"
    }
    assert ("model_id", "ESME/AB/E1/0001", "ESME/AB/E1/0002") in changes
    assert ("supplier_id", "SUP1", "SUP9") in changes
    assert all(e["occurred_on"] == later for e in events if e["kind"] == "FACT_CHANGED")
    assert [(e["field"], e["new_value"]) for e in hub_events if e["kind"] == "FACT_CHANGED"] == [
        ("smi_status", "Commissioned")
    ]
    # The GPF of the hub that became Commissioned is evaluated again.
    assert _stored(engine)["00DB000000000021"] is None


def test_snapshot_keeps_own_credential(engine: Engine, tmp_path: Path) -> None:
    import_inventory_file(engine, _csv(tmp_path, "a.csv", FLEET), _options())
    with engine.begin() as connection:
        connection.execute(
            update(device)
            .where(device.c.id == "00DB000000000012")
            .values(migration_state=MigrationState.MIGRATED.value, credential="ECOS")
        )
        connection.execute(
            update(device)
            .where(device.c.id == "00DB000000000022")
            .values(migration_state=MigrationState.IN_PROGRESS.value)
        )
    stale = [
        row.replace(",TCOS", ",UNKNOWN") if row.startswith("00DB000000000022") else row
        for row in FLEET
    ]
    import_inventory_file(engine, _csv(tmp_path, "b.csv", stale), _options())
    with engine.connect() as connection:
        credentials = dict(connection.execute(select(device.c.id, device.c.credential)).all())
        migrated_events = device_events(connection, "00DB000000000012")
        progress_events = device_events(connection, "00DB000000000022")
    assert credentials["00DB000000000012"] == "ECOS"
    assert credentials["00DB000000000022"] == "TCOS"
    disagreement = [e for e in migrated_events if e["kind"] == "CREDENTIAL_DISAGREEMENT"]
    assert len(disagreement) == 1
    assert disagreement[0]["old_value"] == "ECOS"
    assert disagreement[0]["new_value"] == "TCOS"
    assert [e["new_value"] for e in progress_events if e["kind"] == "CREDENTIAL_DISAGREEMENT"] == [
        "UNKNOWN"
    ]


def test_invalid_file_imports_nothing(engine: Engine, tmp_path: Path) -> None:
    rows = [*FLEET, "00DB000000000099,ESME,SMETS2,Commissioned,AB,E1,0001,,,7,,,,TCOS"]
    with pytest.raises(InputError) as error:
        import_inventory_file(engine, _csv(tmp_path, "bad.csv", rows), _options())
    assert "line 15, column supplier_id" in str(error.value)
    assert _stored(engine) == {}


def test_invalid_reimport_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    import_inventory_file(engine, _csv(tmp_path, "a.csv", FLEET), _options())
    changed = [row.replace(",SUP1,", ",SUP7,") for row in FLEET] + ["bad"]
    with pytest.raises(InputError):
        import_inventory_file(engine, _csv(tmp_path, "b.csv", changed), _options())
    with engine.connect() as connection:
        suppliers = set(connection.execute(select(device.c.supplier_id)).scalars())
        assert "SUP7" not in suppliers
        assert all(
            e["kind"] == "DEVICE_ADDED" for e in device_events(connection, "00DB000000000012")
        )


def test_skip_invalid_writes_rejects(engine: Engine, tmp_path: Path) -> None:
    rows = [*FLEET, "00DB000000000099,ESME,SMETS2,Commissioned,AB,E1,0001,,,7,,,,TCOS", FLEET[2]]
    rejects_path = tmp_path / "rejects.csv"
    writer = RejectsWriter(rejects_path, INVENTORY_COLUMNS)
    result = import_inventory_file(
        engine, _csv(tmp_path, "mixed.csv", rows), _options(skip_invalid=True), rejects=writer
    )
    writer.close()
    assert result.inserted == len(FLEET)
    assert result.rejected == 2
    lines = rejects_path.read_text().splitlines()
    assert lines[0] == "file,line," + HEADER + ",reason"
    assert len(lines) == 3
    assert ",15,00DB000000000099," in lines[1]
    assert "supplier_id" in lines[1]
    assert "duplicate of the device on line 4" in lines[2]


def test_duis_reimport_keeps_uncarried_fields(
    engine: Engine, tmp_path: Path, smartdcc: Path
) -> None:
    rows = [
        "0011223344556677,CHF,SMETS2,Commissioned,MFG1,9001,9001,,,,2022-01-01,,,",
        "00112233FF556677,GPF,SMETS2,Commissioned,MFG1,9001,9000,0011223344556677,SUP1,,2022-01-01,,,TCOS",
    ]
    import_inventory_file(engine, _csv(tmp_path, "a.csv", rows), _options())
    sample = smartdcc / "duis" / "signed" / "read-inventory-response-4g.xml"
    result = import_inventory_file(engine, sample, _options(format=InventoryFormat.DUIS))
    assert result.updated == 2
    assert "supplier_id" in result.not_carried
    with engine.connect() as connection:
        gpf = connection.execute(select(device).where(device.c.id == "00112233FF556677")).one()
        events = device_events(connection, "00112233FF556677")
    assert gpf.chf_id == "0011223344556677"
    assert gpf.supplier_id == "SUP1"
    assert gpf.credential == "TCOS"
    assert gpf.smi_status == "Pending"
    changed = {e["field"] for e in events if e["kind"] == "FACT_CHANGED"}
    assert changed == {"smi_status", "model_id"}
    assert gpf.commissioned_on == date(2022, 1, 1)


def test_duplicates_across_batches(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ecos_migration.inventory.importer.BATCH_SIZE", 3)
    rows = [*FLEET, FLEET[0].replace("00DB000000000011", "00-db-00-00-00-00-00-11"), FLEET[5]]
    with pytest.raises(InputError) as error:
        import_inventory_file(engine, _csv(tmp_path, "dup.csv", rows), _options())
    message = str(error.value)
    assert (
        "line 15, column device_id: value '00-db-00-00-00-00-00-11': "
        "duplicate of the device on line 2" in message
    )
    assert (
        "line 16, column device_id: value '00DB000000000021': duplicate of the device on line 7"
        in message
    )
    assert "2 problem(s)" in message
    assert _stored(engine) == {}


def test_duis_duplicate_device(engine: Engine, tmp_path: Path) -> None:
    device_xml = (
        "<sr:Device><sr:DeviceID>00-11-22-33-44-55-66-77</sr:DeviceID>"
        "<sr:DeviceType>CHF</sr:DeviceType><sr:DeviceStatus>Pending</sr:DeviceStatus>"
        "<sr:DeviceManufacturer>M</sr:DeviceManufacturer><sr:DeviceModel>1</sr:DeviceModel>"
        "<sr:SMETSCHTSVersion>CHTS V1</sr:SMETSCHTSVersion>"
        "<sr:DeviceFirmwareVersion>1</sr:DeviceFirmwareVersion></sr:Device>\n"
    )
    path = tmp_path / "dup.xml"
    path.write_text(
        '<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"><sr:Body>'
        "<sr:ResponseMessage><sr:DSPInventory>\n"
        + device_xml * 2
        + "</sr:DSPInventory></sr:ResponseMessage></sr:Body></sr:Response>"
    )
    with pytest.raises(InputError) as error:
        import_inventory_file(engine, path, _options(format=InventoryFormat.DUIS))
    message = str(error.value)
    assert "DSPInventory/Device[2] (line 3), column DeviceID" in message
    assert "duplicate of the device on line 2" in message


def test_gpf_before_hub_batch(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ecos_migration.inventory.importer.BATCH_SIZE", 1)
    result = import_inventory_file(engine, _csv(tmp_path, "a.csv", FLEET), _options())
    assert result.bulk_path
    stored = _stored(engine)
    assert stored["00DB000000000011"] is None
    assert stored == {k: v.value if v else None for k, v in _reasons(engine).items()}


def test_failed_first_import_keeps_schema(engine: Engine, tmp_path: Path) -> None:
    with engine.connect() as connection:
        before = {
            table: {index["name"] for index in inspect(connection).get_indexes(table)}
            for table in ("device", "device_event")
        }
    with pytest.raises(InputError):
        import_inventory_file(engine, _csv(tmp_path, "bad.csv", [*FLEET, "bad"]), _options())
    with engine.connect() as connection:
        after = {
            table: {index["name"] for index in inspect(connection).get_indexes(table)}
            for table in ("device", "device_event")
        }
    assert after == before
    assert len(before["device"]) == len(device.indexes)
    result = import_inventory_file(engine, _csv(tmp_path, "good.csv", FLEET), _options())
    assert result.inserted == len(FLEET)


def test_duis_skip_invalid_rejects(engine: Engine, tmp_path: Path) -> None:
    good = (
        "<sr:Device><sr:DeviceID>00-11-22-33-44-55-66-77</sr:DeviceID>"
        "<sr:DeviceType>CHF</sr:DeviceType><sr:DeviceStatus>Commissioned</sr:DeviceStatus>"
        "<sr:DeviceManufacturer>M</sr:DeviceManufacturer><sr:DeviceModel>1</sr:DeviceModel>"
        "<sr:SMETSCHTSVersion>CHTS V1</sr:SMETSCHTSVersion>"
        "<sr:DeviceFirmwareVersion>1</sr:DeviceFirmwareVersion></sr:Device>\n"
    )
    bad = (
        good.replace("66-77", "66-78")
        .replace("CHF", "ESME")
        .replace("<sr:SMETSCHTSVersion>CHTS V1</sr:SMETSCHTSVersion>", "")
    )
    path = tmp_path / "mixed.xml"
    path.write_text(
        '<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway"><sr:Body>'
        "<sr:ResponseMessage><sr:DSPInventory>\n"
        + good
        + bad
        + "</sr:DSPInventory></sr:ResponseMessage></sr:Body></sr:Response>"
    )
    rejects_path = tmp_path / "rejects.csv"
    writer = RejectsWriter(rejects_path, DUIS_DEVICE_ELEMENTS)
    result = import_inventory_file(
        engine,
        path,
        _options(format=InventoryFormat.DUIS, skip_invalid=True),
        rejects=writer,
    )
    writer.close()
    assert result.inserted == 1
    assert result.rejected == 1
    lines = rejects_path.read_text().splitlines()
    assert lines[0].startswith("file,line,DeviceID,DeviceType,DeviceStatus")
    assert ",3,00-11-22-33-44-55-66-78,ESME," in lines[1]
    assert "column SMETSCHTSVersion" in lines[1]
    assert set(_stored(engine)) == {"0011223344556677"}


def test_bulk_events_one_per_added_device(engine: Engine, tmp_path: Path) -> None:
    rows = [*FLEET, FLEET[2], "00DB000000000040,ESME,SMETS9,Commissioned,,,,,,,,,,"]
    result = import_inventory_file(
        engine, _csv(tmp_path, "a.csv", rows), _options(skip_invalid=True, actor="loader")
    )
    assert result.bulk_path
    assert result.inserted == result.events == len(FLEET)
    with engine.connect() as connection:
        ids = connection.execute(select(device.c.id)).scalars().all()
        histories = {device_id: device_events(connection, device_id) for device_id in ids}
        assert not device_events(connection, "00DB000000000040")
    assert len(histories) == len(FLEET)
    for events in histories.values():
        assert [(e["kind"], e["occurred_on"], e["actor"]) for e in events] == [
            ("DEVICE_ADDED", ON, "loader")
        ]
        assert events[0]["recorded_at"].replace(tzinfo=UTC) == NOW


def test_unsafe_supplier_and_future_commissioning(engine: Engine, tmp_path: Path) -> None:
    rows = [
        *FLEET,
        "00DB000000000098,ESME,SMETS2,Commissioned,AB,E1,0001,,../../../tmp/x,7,2022-01-01,,,TCOS",
        "00DB000000000099,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,8,2023-07-02,,,TCOS",
    ]
    with pytest.raises(InputError) as error:
        import_inventory_file(engine, _csv(tmp_path, "bad.csv", rows), _options())
    message = str(error.value)
    assert "line 15, column supplier_id: value '../../../tmp/x'" in message
    assert "line 16, column commissioned_on: value '2023-07-02'" in message
    assert _stored(engine) == {}
