"""Findings against the migration period's deadlines on one date, per supplier and for DCC.

Each device holding TCoS is streamed once and judged by the pure rules in
``domain.compliance``; the findings are grouped per supplier.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Engine

from ecos_migration.config import PeriodSettings
from ecos_migration.domain.compliance import (
    AlertStatus,
    Extension,
    Period,
    PeriodDates,
    dates_on,
    hub_cutoff_breach,
    is_stranded,
    supplier_cutoff_breach,
    tcos_install_alert,
)
from ecos_migration.domain.device import Credential, DeviceType, Generation, SmiStatus
from ecos_migration.store.reporting import iter_tcos_devices

logger = logging.getLogger(__name__)

NO_SUPPLIER = "NO_SUPPLIER"


def period_from_settings(settings: PeriodSettings) -> Period:
    """Return the domain's view of the configured period."""
    return Period(
        live_date=settings.live_date,
        end_date=settings.end_date,
        supplier_cutoff_days_before_end=settings.supplier_cutoff_days_before_end,
        hub_cutoff_days_after_live=settings.hub_cutoff_days_after_live,
        extensions=tuple(
            Extension(ext.new_end_date, ext.granted_by, ext.granted_on)
            for ext in settings.extensions
        ),
    )


@dataclass(frozen=True, slots=True)
class Finding:
    """A device installed or commissioned holding TCoS after a cut-off."""

    device_id: str
    device_type: str
    supplier_id: str
    breach_on: date
    installed_on: date | None
    commissioned_on: date | None
    chf_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the finding as JSON-ready values."""
        return {
            "device_id": self.device_id,
            "device_type": self.device_type,
            "supplier_id": self.supplier_id,
            "breach_on": self.breach_on.isoformat(),
            "installed_on": self.installed_on.isoformat() if self.installed_on else None,
            "commissioned_on": self.commissioned_on.isoformat() if self.commissioned_on else None,
            "chf_id": self.chf_id,
        }


@dataclass(frozen=True, slots=True)
class Alert:
    """A TCoS-installation alert and whether it was suppressed or raised."""

    device_id: str
    supplier_id: str
    installed_on: date
    status: AlertStatus


@dataclass
class ComplianceReport:
    """Every finding on one date.

    NOTE: findings, alerts and stranded device ids are held in memory for the JSON output,
    so after the period end a fleet with millions of stranded devices needs memory for each.
    """

    dates: PeriodDates
    supplier_findings: dict[str, list[Finding]] = field(default_factory=dict)
    hub_findings: list[Finding] = field(default_factory=list)
    alerts: dict[str, list[Alert]] = field(default_factory=dict)
    stranded: dict[str, list[str]] = field(default_factory=dict)

    def alert_counts(self) -> dict[str, Counter[str]]:
        """Return, per supplier, the number of alerts in each state."""
        return {
            supplier: Counter(alert.status.value for alert in alerts)
            for supplier, alerts in self.alerts.items()
        }

    def to_json(self) -> dict[str, Any]:
        """Return the report in its documented JSON form."""
        dates = self.dates
        return {
            "on": dates.on.isoformat(),
            "phase": dates.phase.value,
            "live_date": dates.live_date.isoformat(),
            "end_date": dates.end_date.isoformat(),
            "supplier_cutoff_date": dates.supplier_cutoff_date.isoformat(),
            "hub_cutoff_date": dates.hub_cutoff_date.isoformat(),
            "extensions": [
                {
                    "new_end_date": ext.new_end_date.isoformat(),
                    "granted_by": ext.granted_by,
                    "granted_on": ext.granted_on.isoformat(),
                }
                for ext in dates.extensions
            ],
            "supplier_cutoff_findings": {
                supplier: [finding.to_json() for finding in findings]
                for supplier, findings in sorted(self.supplier_findings.items())
            },
            "hub_cutoff_findings": [finding.to_json() for finding in self.hub_findings],
            "tcos_install_alerts": {
                supplier: [
                    {
                        "device_id": alert.device_id,
                        "installed_on": alert.installed_on.isoformat(),
                        "status": alert.status.value,
                    }
                    for alert in alerts
                ]
                for supplier, alerts in sorted(self.alerts.items())
            },
            "stranded": {
                supplier: {"devices": len(ids), "device_ids": ids}
                for supplier, ids in sorted(self.stranded.items())
            },
        }


def compliance_report(
    engine: Engine, *, on: date, period: Period, in_scope_types: frozenset[DeviceType]
) -> ComplianceReport:
    """Judge every device holding TCoS against the deadlines in force on ``on``.

    NOTE: the store keeps a device's current credential, not the one it was installed with,
    so a device installed with TCoS and migrated since is no longer a finding.
    """
    dates = dates_on(period, on)
    report = ComplianceReport(dates)
    with engine.connect() as connection:
        for row in iter_tcos_devices(connection):
            device_type = DeviceType(row["device_type"])
            credential = Credential(row["credential"])
            supplier = row["supplier_id"] or NO_SUPPLIER
            installed_on = row["first_seen_on"]
            commissioned_on = row["commissioned_on"]

            supplier_breach = supplier_cutoff_breach(
                dates,
                device_type=device_type,
                credential=credential,
                installed_on=installed_on,
                commissioned_on=commissioned_on,
                in_scope_types=in_scope_types,
            )
            if supplier_breach is not None:
                report.supplier_findings.setdefault(supplier, []).append(
                    Finding(
                        row["id"],
                        device_type.value,
                        supplier,
                        supplier_breach,
                        installed_on,
                        commissioned_on,
                    )
                )

            hub_breach = hub_cutoff_breach(
                dates,
                device_type=device_type,
                credential=credential,
                installed_on=installed_on,
                commissioned_on=commissioned_on,
            )
            if hub_breach is not None:
                report.hub_findings.append(
                    Finding(
                        row["id"],
                        device_type.value,
                        supplier,
                        hub_breach,
                        installed_on,
                        commissioned_on,
                        row["chf_id"],
                    )
                )

            alert = tcos_install_alert(
                dates,
                device_type=device_type,
                credential=credential,
                installed_on=installed_on,
                in_scope_types=in_scope_types,
            )
            if alert is not None and installed_on is not None:
                report.alerts.setdefault(supplier, []).append(
                    Alert(row["id"], supplier, installed_on, alert)
                )

            if is_stranded(
                dates,
                generation=Generation(row["generation"]),
                device_type=device_type,
                smi_status=SmiStatus(row["smi_status"]),
                credential=credential,
                in_scope_types=in_scope_types,
            ):
                report.stranded.setdefault(supplier, []).append(row["id"])
    _sort(report)
    logger.info(
        "Checked the period deadlines.",
        extra={"on": on.isoformat(), "phase": dates.phase.value},
    )
    return report


def _sort(report: ComplianceReport) -> None:
    # The stream has no order, so sort for stable output.
    for findings in report.supplier_findings.values():
        findings.sort(key=lambda finding: (finding.breach_on, finding.device_id))
    report.hub_findings.sort(key=lambda finding: (finding.breach_on, finding.device_id))
    for alerts in report.alerts.values():
        alerts.sort(key=lambda alert: (alert.installed_on, alert.device_id))
    for ids in report.stranded.values():
        ids.sort()
