"""Deadline findings from the store, per supplier and for DCC, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine

from ecos_migration.domain.compliance import Extension, Period
from ecos_migration.domain.device import (
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.reporting.compliance import compliance_report
from ecos_migration.store.devices import DeviceRecord
from report_fleet import add_devices, set_migration_state

IN_SCOPE = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})
PERIOD = Period(
    live_date=date(2023, 6, 30),
    end_date=date(2024, 10, 31),
    supplier_cutoff_days_before_end=30,
    hub_cutoff_days_after_live=225,
)
EXTENDED = Period(
    live_date=date(2023, 6, 30),
    end_date=date(2024, 10, 31),
    supplier_cutoff_days_before_end=30,
    hub_cutoff_days_after_live=225,
    extensions=(Extension(date(2025, 3, 31), "Secretary of State", date(2024, 9, 15)),),
)
ESME = DeviceModelKey(DeviceType.ESME, "AB01", "E100", "0001")
GPF = DeviceModelKey(DeviceType.GPF, "GH04", "P400", "0009")


def _meter(
    identifier: str, supplier: str, credential: Credential = Credential.TCOS
) -> DeviceRecord:
    return DeviceRecord(
        id=identifier,
        device_type=DeviceType.ESME,
        generation=Generation.SMETS2,
        smi_status=SmiStatus.COMMISSIONED,
        model_key=ESME,
        supplier_id=supplier,
        commissioned_on=date(2023, 1, 1),
        credential=credential,
    )


@pytest.fixture
def deadline_engine(engine: Engine) -> Engine:
    """Devices installed before live, during the period and after the supplier cut-off."""
    with engine.begin() as connection:
        add_devices(connection, [_meter("0000000000000001", "SUPA")], date(2023, 1, 1))
        add_devices(connection, [_meter("0000000000000002", "SUPA")], date(2024, 1, 15))
        add_devices(connection, [_meter("0000000000000003", "SUPB")], date(2024, 10, 1))
        add_devices(
            connection, [_meter("0000000000000004", "SUPB", Credential.ECOS)], date(2024, 10, 2)
        )
        add_devices(connection, [_meter("0000000000000005", "SUPA")], date(2024, 1, 20))
        set_migration_state(
            connection,
            ["0000000000000005"],
            MigrationState.MIGRATED,
            Credential.ECOS,
            date(2024, 2, 1),
        )
        hub = DeviceRecord(
            id="00000000000000C1",
            device_type=DeviceType.CHF,
            generation=Generation.SMETS2,
            smi_status=SmiStatus.COMMISSIONED,
            supplier_id="SUPB",
            credential=Credential.NOT_APPLICABLE,
        )
        gpf = DeviceRecord(
            id="00000000000000C2",
            device_type=DeviceType.GPF,
            generation=Generation.SMETS2,
            smi_status=SmiStatus.COMMISSIONED,
            model_key=GPF,
            chf_id="00000000000000C1",
            supplier_id="SUPB",
            commissioned_on=date(2024, 2, 10),
            credential=Credential.TCOS,
        )
        add_devices(connection, [hub, gpf], date(2024, 2, 10))
    return engine


def test_compliance_supplier_cutoff_findings(deadline_engine: Engine) -> None:
    before = compliance_report(
        deadline_engine, on=date(2024, 9, 30), period=PERIOD, in_scope_types=IN_SCOPE
    )
    assert before.supplier_findings == {}

    after = compliance_report(
        deadline_engine, on=date(2024, 10, 5), period=PERIOD, in_scope_types=IN_SCOPE
    )
    assert list(after.supplier_findings) == ["SUPB"]
    (finding,) = after.supplier_findings["SUPB"]
    assert finding.device_id == "0000000000000003"
    assert finding.breach_on == date(2024, 10, 1)


def test_compliance_extension_moves_cutoff(deadline_engine: Engine) -> None:
    report = compliance_report(
        deadline_engine, on=date(2024, 10, 5), period=EXTENDED, in_scope_types=IN_SCOPE
    )
    assert report.supplier_findings == {}
    assert report.dates.end_date == date(2025, 3, 31)
    data = report.to_json()
    assert data["extensions"] == [
        {
            "new_end_date": "2025-03-31",
            "granted_by": "Secretary of State",
            "granted_on": "2024-09-15",
        }
    ]


def test_compliance_hub_cutoff_findings(deadline_engine: Engine) -> None:
    before = compliance_report(
        deadline_engine, on=date(2024, 2, 9), period=PERIOD, in_scope_types=IN_SCOPE
    )
    assert before.hub_findings == []

    after = compliance_report(
        deadline_engine, on=date(2024, 2, 10), period=PERIOD, in_scope_types=IN_SCOPE
    )
    (finding,) = after.hub_findings
    assert finding.device_id == "00000000000000C2"
    assert finding.chf_id == "00000000000000C1"
    assert finding.breach_on == date(2024, 2, 10)
    # The hub is DCC's finding, never the supplier's.
    assert all(
        item.device_id != "00000000000000C2"
        for findings in after.supplier_findings.values()
        for item in findings
    )


def test_compliance_alerts_suppressed_then_raised(deadline_engine: Engine) -> None:
    report = compliance_report(
        deadline_engine, on=date(2024, 10, 30), period=PERIOD, in_scope_types=IN_SCOPE
    )
    statuses = {
        alert.device_id: alert.status.value for alerts in report.alerts.values() for alert in alerts
    }
    # No alert for an install before live, nor for a device migrated to ECoS since.
    assert statuses == {
        "0000000000000002": "SUPPRESSED",
        "0000000000000003": "SUPPRESSED",
        "00000000000000C2": "SUPPRESSED",
    }

    with deadline_engine.begin() as connection:
        add_devices(connection, [_meter("0000000000000006", "SUPA")], date(2024, 10, 31))
    after = compliance_report(
        deadline_engine, on=date(2024, 11, 1), period=PERIOD, in_scope_types=IN_SCOPE
    )
    counts = after.alert_counts()
    assert counts["SUPA"]["RAISED"] == 1
    assert counts["SUPA"]["SUPPRESSED"] == 1
    assert counts["SUPB"]["SUPPRESSED"] == 2


def test_compliance_stranded_per_supplier(deadline_engine: Engine) -> None:
    during = compliance_report(
        deadline_engine, on=date(2024, 10, 30), period=PERIOD, in_scope_types=IN_SCOPE
    )
    assert during.stranded == {}

    ended = compliance_report(
        deadline_engine, on=date(2024, 10, 31), period=PERIOD, in_scope_types=IN_SCOPE
    )
    assert ended.stranded == {
        "SUPA": ["0000000000000001", "0000000000000002"],
        "SUPB": ["0000000000000003", "00000000000000C2"],
    }
    assert ended.to_json()["stranded"]["SUPA"]["devices"] == 2

    extended = compliance_report(
        deadline_engine, on=date(2024, 10, 31), period=EXTENDED, in_scope_types=IN_SCOPE
    )
    assert extended.stranded == {}
