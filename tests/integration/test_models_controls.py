"""Device Model listing and operators' controls in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, update

from ecos_migration.domain.device import DeviceModelKey
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.models import AppealStatus, ModelControl, ModelState
from ecos_migration.errors import NotFoundError, StateError
from ecos_migration.inventory.controls import (
    ControlRequest,
    appeal_model,
    control_all_models,
    control_model,
)
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
from ecos_migration.inventory.importer import ImportOptions, InventoryFormat, import_inventory_file
from ecos_migration.inventory.model_listing import list_models
from ecos_migration.store.appeals import appeals_of_model
from ecos_migration.store.events import model_events
from ecos_migration.store.models import get_model
from ecos_migration.store.schema import attempt, device, device_model
from ecos_migration.store.upgrades import replace_allowed_upgrades

ON = date(2023, 7, 1)
NOW = datetime(2023, 7, 1, 12, tzinfo=UTC)
POLICY = EligibilityPolicy()
E1 = DeviceModelKey.parse("ESME/AB/E1/0001")
E2 = DeviceModelKey.parse("ESME/AB/E1/0002")
REQUEST = ControlRequest("alice", "firmware defect under triage", ON, NOW)

ROWS = [
    "00DB000000000001,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,1,2022-01-01,,,TCOS",
    "00DB000000000002,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,2,2022-01-01,,,TCOS",
    "00DB000000000003,ESME,SMETS2,Commissioned,AB,E1,0001,,SUP1,3,2022-01-01,,FAILED,TCOS",
    "00DB000000000004,ESME,SMETS2,Commissioned,AB,E1,0002,,SUP1,4,2022-01-01,,,TCOS",
]


@pytest.fixture
def fleet(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "fleet.csv"
    path.write_text(",".join(INVENTORY_COLUMNS) + "\n" + "\n".join(ROWS) + "\n")
    import_inventory_file(engine, path, ImportOptions(InventoryFormat.CSV, ON, NOW, POLICY))
    return engine


def test_listing_counts(fleet: Engine) -> None:
    with fleet.begin() as connection:
        model_id = get_model(connection, E1).id
        connection.execute(
            update(device)
            .where(device.c.id == "00DB000000000002")
            .values(migration_state="MIGRATED", credential="ECOS", reason="ALREADY_ECOS")
        )
        connection.execute(
            update(device)
            .where(device.c.id == "00DB000000000003")
            .values(migration_state="AWAITING_REMEDIATION", reason="AWAITING_REMEDIATION")
        )
        for number, (device_id, step) in enumerate(
            [("00DB000000000001", 0), ("00DB000000000001", 1), ("00DB000000000002", None)]
        ):
            connection.execute(
                insert(attempt).values(
                    id=f"a{number}",
                    device_id=device_id,
                    model_id=model_id,
                    number=number,
                    proving_step=step,
                    started_on=ON,
                    step="INSTRUCT",
                    status="SUCCEEDED",
                )
            )
        listing = {str(s.record.key): s for s in list_models(connection, ON, POLICY)}
    e1 = listing[str(E1)]
    assert e1.counts.devices == 3
    assert e1.eligible == 1
    assert e1.counts.proving_devices == 1
    assert e1.counts.migrated == 1
    assert e1.counts.failed == 1
    assert e1.upgrade_targets == [str(E2)]
    assert e1.to_json()["state"] == "NEW"
    assert listing[str(E2)].eligible == 1


def test_suspended_model_has_no_eligible(fleet: Engine) -> None:
    with fleet.begin() as connection:
        control_model(connection, E1, ModelControl.SUSPEND, REQUEST)
        listing = {str(s.record.key): s for s in list_models(connection, ON, POLICY)}
    assert listing[str(E1)].eligible == 0
    assert listing[str(E1)].record.state is ModelState.SUSPENDED
    assert listing[str(E1)].record.state_reason == REQUEST.reason


def test_suspend_and_resume_return(fleet: Engine) -> None:
    with fleet.begin() as connection:
        connection.execute(
            update(device_model)
            .where(device_model.c.firmware_version == "0001")
            .values(state="BULK")
        )
        control_model(connection, E1, ModelControl.SUSPEND, REQUEST)
        assert get_model(connection, E1).suspended_from_state is ModelState.BULK
        control_model(connection, E1, ModelControl.RESUME, REQUEST)
        model = get_model(connection, E1)
        events = model_events(connection, model.id)
    assert model.state is ModelState.BULK
    assert [(e["kind"], e["from_state"], e["to_state"], e["actor"]) for e in events] == [
        ("SUSPENDED", "BULK", "SUSPENDED", "alice"),
        ("RESUMED", "SUSPENDED", "BULK", "alice"),
    ]


def test_all_stop_and_resume_all(fleet: Engine) -> None:
    with fleet.begin() as connection:
        control_model(connection, E2, ModelControl.NON_MIGRATABLE, REQUEST)
        suspended = control_all_models(connection, ModelControl.SUSPEND, REQUEST)
        assert [str(item.model.key) for item in suspended] == [str(E1)]
        resumed = control_all_models(connection, ModelControl.RESUME, REQUEST)
        assert [str(item.model.key) for item in resumed] == [str(E1)]
        assert get_model(connection, E2).state is ModelState.NON_MIGRATABLE


def test_control_not_applicable(fleet: Engine) -> None:
    with fleet.begin() as connection, pytest.raises(StateError, match="ESME/AB/E1/0001"):
        control_model(connection, E1, ModelControl.RESUME, REQUEST)


def test_unknown_model(fleet: Engine) -> None:
    with fleet.begin() as connection, pytest.raises(NotFoundError):
        control_model(connection, DeviceModelKey.parse("ESME/X/Y/Z"), ModelControl.SUSPEND, REQUEST)


def test_non_migratable_and_back(fleet: Engine) -> None:
    with fleet.begin() as connection:
        control_model(connection, E1, ModelControl.SUSPEND, REQUEST)
        control_model(connection, E1, ModelControl.NON_MIGRATABLE, REQUEST)
        model = get_model(connection, E1)
        assert model.state is ModelState.NON_MIGRATABLE
        assert model.non_migratable_on == ON
        assert model.suspended_from_state is ModelState.NEW
        control_model(connection, E1, ModelControl.MIGRATABLE, REQUEST)
        assert get_model(connection, E1).state is ModelState.NEW


def test_appeals(fleet: Engine) -> None:
    with fleet.begin() as connection:
        with pytest.raises(StateError, match="Non-Migratable"):
            appeal_model(connection, E1, "SUP1", AppealStatus.LODGED, REQUEST)
        control_model(connection, E1, ModelControl.NON_MIGRATABLE, REQUEST)
        assert appeal_model(connection, E1, "SUP1", AppealStatus.LODGED, REQUEST) is None
        applied = appeal_model(connection, E1, "SUP1", AppealStatus.OVERTURNED, REQUEST)
        assert applied is not None
        model = get_model(connection, E1)
        appeals = appeals_of_model(connection, model.id)
        kinds = [e["kind"] for e in model_events(connection, model.id)]
    assert model.state is ModelState.NEW
    assert [a["status"] for a in appeals] == ["LODGED", "OVERTURNED"]
    assert appeals[0]["supplier_id"] == "SUP1"
    assert kinds == [
        "DETERMINED_NON_MIGRATABLE",
        "APPEAL_LODGED",
        "APPEAL_OVERTURNED",
        "MADE_MIGRATABLE",
    ]


def test_upgrade_list_replaces_default(fleet: Engine) -> None:
    other = DeviceModelKey.parse("ESME/AB/E1/0003")
    with fleet.begin() as connection:
        replace_allowed_upgrades(connection, [(E1, other)], "upgrades.csv")
        listing = {str(s.record.key): s for s in list_models(connection, ON, POLICY)}
    assert listing[str(E1)].upgrade_targets == [str(other)]
    assert listing[str(E2)].upgrade_targets == []
