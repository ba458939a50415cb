"""Each deadline rule of the migration period on both sides of its date, with extensions."""

from __future__ import annotations

from datetime import date

import pytest

from ecos_migration.domain.compliance import (
    AlertStatus,
    Extension,
    Period,
    Phase,
    dates_on,
    hub_cutoff_breach,
    is_stranded,
    is_supplier_actionable,
    still_needs_migration,
    supplier_cutoff_breach,
    tcos_install_alert,
)
from ecos_migration.domain.device import Credential, DeviceType, Generation, SmiStatus
from ecos_migration.domain.eligibility import Reason

IN_SCOPE = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})
EXTENSION = Extension(date(2025, 3, 31), "Secretary of State", date(2024, 9, 15))
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
    extensions=(EXTENSION,),
)
LATE = date(2026, 1, 1)


def _supplier(period: Period, on: date, installed: date, **changes: object) -> date | None:
    values: dict[str, object] = {
        "device_type": DeviceType.ESME,
        "credential": Credential.TCOS,
        "installed_on": installed,
        "commissioned_on": None,
        "in_scope_types": IN_SCOPE,
    }
    values.update(changes)
    return supplier_cutoff_breach(dates_on(period, on), **values)  # type: ignore[arg-type]


def test_compliance_dates_default() -> None:
    dates = dates_on(PERIOD, date(2024, 1, 1))
    assert dates.hub_cutoff_date == date(2024, 2, 10)
    assert dates.supplier_cutoff_date == date(2024, 10, 1)
    assert dates.end_date == date(2024, 10, 31)
    assert dates.extensions == ()


def test_compliance_extension_applies_once_granted() -> None:
    before = dates_on(EXTENDED, date(2024, 9, 14))
    assert before.end_date == date(2024, 10, 31)
    assert before.extensions == ()
    granted = dates_on(EXTENDED, date(2024, 9, 15))
    assert granted.end_date == date(2025, 3, 31)
    assert granted.supplier_cutoff_date == date(2025, 3, 1)
    assert granted.extensions == (EXTENSION,)
    # The hub cut-off counts from the live date, so an extension does not move it.
    assert granted.hub_cutoff_date == date(2024, 2, 10)


def test_compliance_latest_extension_wins() -> None:
    second = Extension(date(2025, 9, 30), "Secretary of State", date(2025, 2, 1))
    period = Period(
        live_date=PERIOD.live_date,
        end_date=PERIOD.end_date,
        supplier_cutoff_days_before_end=30,
        hub_cutoff_days_after_live=225,
        extensions=(EXTENSION, second),
    )
    assert dates_on(period, date(2025, 1, 31)).end_date == date(2025, 3, 31)
    assert dates_on(period, date(2025, 2, 1)).end_date == date(2025, 9, 30)


@pytest.mark.parametrize(
    ("on", "phase"),
    [
        (date(2023, 6, 29), Phase.BEFORE_LIVE),
        (date(2023, 6, 30), Phase.IN_PERIOD),
        (date(2024, 10, 30), Phase.IN_PERIOD),
        (date(2024, 10, 31), Phase.ENDED),
    ],
)
def test_compliance_phase_boundaries(on: date, phase: Phase) -> None:
    assert dates_on(PERIOD, on).phase is phase


def test_compliance_phase_with_extension() -> None:
    assert dates_on(EXTENDED, date(2024, 10, 31)).phase is Phase.IN_PERIOD
    assert dates_on(EXTENDED, date(2025, 3, 31)).phase is Phase.ENDED


def test_compliance_supplier_cutoff_boundary() -> None:
    assert _supplier(PERIOD, LATE, date(2024, 9, 30)) is None
    assert _supplier(PERIOD, LATE, date(2024, 10, 1)) == date(2024, 10, 1)


def test_compliance_supplier_cutoff_commissioned() -> None:
    found = _supplier(PERIOD, LATE, date(2024, 9, 1), commissioned_on=date(2024, 10, 2))
    assert found == date(2024, 10, 2)


def test_compliance_supplier_cutoff_extended() -> None:
    # Under the extension the cut-off moves to 2025-03-01.
    assert _supplier(EXTENDED, LATE, date(2024, 10, 1)) is None
    assert _supplier(EXTENDED, LATE, date(2025, 2, 28)) is None
    assert _supplier(EXTENDED, LATE, date(2025, 3, 1)) == date(2025, 3, 1)


def test_compliance_supplier_cutoff_not_future() -> None:
    # An install after the report date is not known on that date.
    assert _supplier(PERIOD, date(2024, 10, 5), date(2024, 10, 6)) is None
    assert _supplier(PERIOD, date(2024, 10, 6), date(2024, 10, 6)) == date(2024, 10, 6)


def test_compliance_supplier_cutoff_exemptions() -> None:
    installed = date(2024, 10, 10)
    assert _supplier(PERIOD, LATE, installed, credential=Credential.ECOS) is None
    assert _supplier(PERIOD, LATE, installed, device_type=DeviceType.GPF) is None
    assert _supplier(PERIOD, LATE, installed, device_type=DeviceType.CHF) is None
    assert _supplier(PERIOD, LATE, installed, device_type=DeviceType.GSME) == installed


def _hub(
    on: date, installed: date | None, commissioned: date | None, **changes: object
) -> date | None:
    values: dict[str, object] = {
        "device_type": DeviceType.GPF,
        "credential": Credential.TCOS,
        "installed_on": installed,
        "commissioned_on": commissioned,
    }
    values.update(changes)
    return hub_cutoff_breach(dates_on(PERIOD, on), **values)  # type: ignore[arg-type]


def test_compliance_hub_cutoff_boundary() -> None:
    assert _hub(LATE, None, date(2024, 2, 9)) is None
    assert _hub(LATE, None, date(2024, 2, 10)) == date(2024, 2, 10)
    assert _hub(LATE, date(2024, 3, 1), None) == date(2024, 3, 1)


def test_compliance_hub_cutoff_exemptions() -> None:
    day = date(2024, 3, 1)
    assert _hub(LATE, None, day, credential=Credential.ECOS) is None
    assert _hub(LATE, None, day, device_type=DeviceType.ESME) is None
    assert _hub(date(2024, 2, 28), None, day) is None


def test_compliance_hub_cutoff_ignores_extension() -> None:
    dates = dates_on(EXTENDED, LATE)
    found = hub_cutoff_breach(
        dates,
        device_type=DeviceType.GPF,
        credential=Credential.TCOS,
        installed_on=None,
        commissioned_on=date(2024, 2, 10),
    )
    assert found == date(2024, 2, 10)


def _alert(
    period: Period, on: date, installed: date | None, **changes: object
) -> AlertStatus | None:
    values: dict[str, object] = {
        "device_type": DeviceType.ESME,
        "credential": Credential.TCOS,
        "installed_on": installed,
        "in_scope_types": IN_SCOPE,
    }
    values.update(changes)
    return tcos_install_alert(dates_on(period, on), **values)  # type: ignore[arg-type]


def test_compliance_alert_before_live() -> None:
    assert _alert(PERIOD, LATE, date(2023, 6, 29)) is None


def test_compliance_alert_suppressed_in_period() -> None:
    assert _alert(PERIOD, LATE, date(2023, 6, 30)) is AlertStatus.SUPPRESSED
    assert _alert(PERIOD, LATE, date(2024, 10, 30)) is AlertStatus.SUPPRESSED


def test_compliance_alert_raised_after_period() -> None:
    assert _alert(PERIOD, LATE, date(2024, 10, 31)) is AlertStatus.RAISED


def test_compliance_alert_extension_suppresses() -> None:
    assert _alert(EXTENDED, LATE, date(2024, 10, 31)) is AlertStatus.SUPPRESSED
    assert _alert(EXTENDED, LATE, date(2025, 3, 30)) is AlertStatus.SUPPRESSED
    assert _alert(EXTENDED, LATE, date(2025, 3, 31)) is AlertStatus.RAISED


def test_compliance_alert_exemptions() -> None:
    day = date(2024, 1, 1)
    assert _alert(PERIOD, LATE, day, credential=Credential.ECOS) is None
    assert _alert(PERIOD, LATE, day, device_type=DeviceType.IHD) is None
    assert _alert(PERIOD, LATE, None) is None
    assert _alert(PERIOD, date(2023, 12, 31), day) is None


def _stranded(period: Period, on: date, **changes: object) -> bool:
    values: dict[str, object] = {
        "generation": Generation.SMETS2,
        "device_type": DeviceType.ESME,
        "smi_status": SmiStatus.COMMISSIONED,
        "credential": Credential.TCOS,
        "in_scope_types": IN_SCOPE,
    }
    values.update(changes)
    return is_stranded(dates_on(period, on), **values)  # type: ignore[arg-type]


def test_compliance_stranded_at_end() -> None:
    assert not _stranded(PERIOD, date(2024, 10, 30))
    assert _stranded(PERIOD, date(2024, 10, 31))
    assert _stranded(PERIOD, LATE)


def test_compliance_stranded_with_extension() -> None:
    assert not _stranded(EXTENDED, date(2024, 10, 31))
    assert not _stranded(EXTENDED, date(2025, 3, 30))
    assert _stranded(EXTENDED, date(2025, 3, 31))


def test_compliance_stranded_exemptions() -> None:
    end = date(2024, 10, 31)
    assert not _stranded(PERIOD, end, credential=Credential.ECOS)
    assert not _stranded(PERIOD, end, generation=Generation.SMETS1)
    assert not _stranded(PERIOD, end, device_type=DeviceType.CHF)
    assert not _stranded(PERIOD, end, smi_status=SmiStatus.DECOMMISSIONED)
    assert not _stranded(PERIOD, end, smi_status=SmiStatus.WITHDRAWN)
    assert _stranded(PERIOD, end, smi_status=SmiStatus.INSTALLED_NOT_COMMISSIONED)
    assert _stranded(PERIOD, end, device_type=DeviceType.GPF)


@pytest.mark.parametrize(
    ("reason", "status", "expected"),
    [
        (Reason.COMMS_FAILURE, SmiStatus.COMMISSIONED, True),
        (Reason.AWAITING_REMEDIATION, SmiStatus.COMMISSIONED, True),
        (Reason.NOT_COMMISSIONED, SmiStatus.INSTALLED_NOT_COMMISSIONED, True),
        (Reason.NOT_COMMISSIONED, SmiStatus.DECOMMISSIONED, False),
        (Reason.NOT_COMMISSIONED, SmiStatus.PENDING, False),
        (Reason.MODEL_NON_MIGRATABLE, SmiStatus.COMMISSIONED, False),
        (Reason.RECENTLY_COMMISSIONED, SmiStatus.COMMISSIONED, False),
        (None, SmiStatus.COMMISSIONED, False),
    ],
)
def test_compliance_supplier_actionable(
    reason: Reason | None, status: SmiStatus, expected: bool
) -> None:
    assert is_supplier_actionable(reason, status) is expected


def test_compliance_still_needs_migration() -> None:
    assert still_needs_migration(None)
    assert still_needs_migration(Reason.MODEL_NON_MIGRATABLE)
    assert not still_needs_migration(Reason.ALREADY_ECOS)
    assert not still_needs_migration(Reason.OUT_OF_SCOPE_SMETS1)
    assert not still_needs_migration(Reason.OUT_OF_SCOPE_DEVICE_TYPE)
