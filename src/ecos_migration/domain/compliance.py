"""The migration period's deadlines, each as a pure rule on dates and one device's facts.

- Supplier cut-off: from ``end - supplier_cutoff_days`` suppliers may no longer install or
  commission devices holding a TCoS certificate; each one is a finding against the supplier.
- Hub cut-off: from ``live + hub_cutoff_days`` DCC may no longer deliver communications hubs
  whose GPF holds TCoS; each such GPF installed or commissioned from then on is DCC's finding.
- TCoS-installation alert: it tells a supplier it installed a device holding TCoS. For installs
  during the period it is suppressed (but still listed); for installs at or after the end it
  is raised. Installs before the live date raise no alert, because TCoS was the only party.
- Period end: at and after the end, every in-scope device still holding TCoS is stranded.

The period end in force on a date is the latest extension granted on or before that date, so a
report for a past date uses the end that applied then.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from ecos_migration.domain.device import Credential, DeviceType, Generation, SmiStatus
from ecos_migration.domain.eligibility import Reason

# SMI statuses of devices that have left the network, so their certificate no longer matters.
RETIRED_STATUSES = frozenset({SmiStatus.DECOMMISSIONED, SmiStatus.WITHDRAWN})


@dataclass(frozen=True, slots=True)
class Extension:
    """An extension of the period end granted by the Secretary of State."""

    new_end_date: date
    granted_by: str
    granted_on: date


@dataclass(frozen=True, slots=True)
class Period:
    """The configured dates of the migration period, with every extension, oldest first."""

    live_date: date
    end_date: date
    supplier_cutoff_days_before_end: int
    hub_cutoff_days_after_live: int
    extensions: tuple[Extension, ...] = ()


class Phase(enum.StrEnum):
    """The position of a date in the migration period."""

    BEFORE_LIVE = "BEFORE_LIVE"
    IN_PERIOD = "IN_PERIOD"
    ENDED = "ENDED"


class AlertStatus(enum.StrEnum):
    """State of the TCoS-installation alert for one install."""

    SUPPRESSED = "SUPPRESSED"
    RAISED = "RAISED"


@dataclass(frozen=True, slots=True)
class PeriodDates:
    """The period's dates as they stood on ``on``, with the extensions granted by then."""

    on: date
    live_date: date
    end_date: date
    supplier_cutoff_date: date
    hub_cutoff_date: date
    extensions: tuple[Extension, ...]

    @property
    def phase(self) -> Phase:
        """Where ``on`` falls in the period."""
        if self.on < self.live_date:
            return Phase.BEFORE_LIVE
        if self.on < self.end_date:
            return Phase.IN_PERIOD
        return Phase.ENDED


def dates_on(period: Period, on: date) -> PeriodDates:
    """Return the period's dates in force on ``on``: extensions granted later do not apply."""
    granted = tuple(ext for ext in period.extensions if ext.granted_on <= on)
    end = granted[-1].new_end_date if granted else period.end_date
    return PeriodDates(
        on=on,
        live_date=period.live_date,
        end_date=end,
        supplier_cutoff_date=end - timedelta(days=period.supplier_cutoff_days_before_end),
        hub_cutoff_date=period.live_date + timedelta(days=period.hub_cutoff_days_after_live),
        extensions=granted,
    )


def _first_on_or_after(
    cutoff: date, on: date, installed_on: date | None, commissioned_on: date | None
) -> date | None:
    candidates = [
        day for day in (installed_on, commissioned_on) if day is not None and cutoff <= day <= on
    ]
    return min(candidates) if candidates else None


def supplier_cutoff_breach(
    dates: PeriodDates,
    *,
    device_type: DeviceType,
    credential: Credential,
    installed_on: date | None,
    commissioned_on: date | None,
    in_scope_types: frozenset[DeviceType],
) -> date | None:
    """Return the day a supplier installed or commissioned a TCoS device on or after its cut-off.

    Returns ``None`` when there is no breach by ``dates.on``. A GPF is part of the
    communications hub that DCC delivers, so ``hub_cutoff_breach`` covers it instead.
    """
    if device_type is DeviceType.GPF or device_type not in in_scope_types:
        return None
    if credential is not Credential.TCOS:
        return None
    return _first_on_or_after(dates.supplier_cutoff_date, dates.on, installed_on, commissioned_on)


def hub_cutoff_breach(
    dates: PeriodDates,
    *,
    device_type: DeviceType,
    credential: Credential,
    installed_on: date | None,
    commissioned_on: date | None,
) -> date | None:
    """Return the day a hub whose GPF holds TCoS was installed or commissioned after DCC's cut-off.

    Returns ``None`` when there is no breach by ``dates.on``.
    """
    if device_type is not DeviceType.GPF or credential is not Credential.TCOS:
        return None
    return _first_on_or_after(dates.hub_cutoff_date, dates.on, installed_on, commissioned_on)


def tcos_install_alert(
    dates: PeriodDates,
    *,
    device_type: DeviceType,
    credential: Credential,
    installed_on: date | None,
    in_scope_types: frozenset[DeviceType],
) -> AlertStatus | None:
    """Return the state of the TCoS-installation alert for a device, or ``None`` if none applies."""
    if device_type not in in_scope_types or credential is not Credential.TCOS:
        return None
    if installed_on is None or installed_on < dates.live_date or installed_on > dates.on:
        return None
    if installed_on < dates.end_date:
        return AlertStatus.SUPPRESSED
    return AlertStatus.RAISED


def is_stranded(
    dates: PeriodDates,
    *,
    generation: Generation,
    device_type: DeviceType,
    smi_status: SmiStatus,
    credential: Credential,
    in_scope_types: frozenset[DeviceType],
) -> bool:
    """Return whether a device is stranded on ``dates.on``: the period ended and it holds TCoS.

    Decommissioned and withdrawn devices have left the network and are not counted.
    """
    if dates.phase is not Phase.ENDED:
        return False
    if generation is Generation.SMETS1 or device_type not in in_scope_types:
        return False
    if smi_status in RETIRED_STATUSES:
        return False
    return credential is Credential.TCOS


# Ineligibility reasons the Responsible Supplier can remove itself: restore communications,
# commission an installed device, or take the action named by the last error of a Failed
# Migration. NOT_COMMISSIONED counts only for a device that is InstalledNotCommissioned.
SUPPLIER_ACTIONABLE_REASONS = frozenset(
    {Reason.COMMS_FAILURE, Reason.NOT_COMMISSIONED, Reason.AWAITING_REMEDIATION}
)


def is_supplier_actionable(reason: Reason | None, smi_status: SmiStatus) -> bool:
    """Return whether a device's primary reason is one its supplier can fix."""
    if reason not in SUPPLIER_ACTIONABLE_REASONS:
        return False
    if reason is Reason.NOT_COMMISSIONED:
        return smi_status is SmiStatus.INSTALLED_NOT_COMMISSIONED
    return True


def still_needs_migration(reason: Reason | None) -> bool:
    """Return whether a device with this primary reason is in scope and does not hold ECoS yet."""
    return reason not in (
        Reason.OUT_OF_SCOPE_SMETS1,
        Reason.OUT_OF_SCOPE_DEVICE_TYPE,
        Reason.ALREADY_ECOS,
    )
