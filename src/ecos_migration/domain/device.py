"""Devices, their identifiers and the enumerations that describe them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

_EUI64_PATTERN = re.compile(r"^[0-9A-Fa-f]{2}(?:-?[0-9A-Fa-f]{2}){7}$")


class DeviceType(enum.StrEnum):
    """GBCS device types, spelled as DUIS spells them."""

    ESME = "ESME"
    GSME = "GSME"
    CHF = "CHF"
    GPF = "GPF"
    HCALCS = "HCALCS"
    PPMID = "PPMID"
    IHD = "IHD"
    CAD = "CAD"
    TYPE2 = "Type2"


class Generation(enum.StrEnum):
    """SMETS generation of a device."""

    SMETS1 = "SMETS1"
    SMETS2 = "SMETS2"


class SmiStatus(enum.StrEnum):
    """Smart Metering Inventory status, with the DUIS spellings."""

    PENDING = "Pending"
    WHITELISTED = "Whitelisted"
    INSTALLED_NOT_COMMISSIONED = "InstalledNotCommissioned"
    COMMISSIONED = "Commissioned"
    DECOMMISSIONED = "Decommissioned"
    WITHDRAWN = "Withdrawn"
    SUSPENDED = "Suspended"
    RECOVERY = "Recovery"
    RECOVERED = "Recovered"


class Credential(enum.StrEnum):
    """Which CoS certificate a device holds in its trust anchor cell."""

    TCOS = "TCOS"
    ECOS = "ECOS"
    UNKNOWN = "UNKNOWN"
    NOT_APPLICABLE = "NOT_APPLICABLE"


class CommsStatus(enum.StrEnum):
    """Whether DCC can currently communicate with a device."""

    OK = "OK"
    FAILED = "FAILED"


class MigrationState(enum.StrEnum):
    """Where a device stands in the migration."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    AWAITING_REMEDIATION = "AWAITING_REMEDIATION"
    MIGRATED = "MIGRATED"


def canonical_device_id(text: str) -> str:
    """Return the canonical form of an EUI-64: 16 upper-case hex digits, no hyphens.

    Accepts the DUIS form ``00-DB-12-34-56-78-90-A0`` and the plain form
    ``00db1234567890a0``. Raises ``ValueError`` for anything else.
    """
    stripped = text.strip()
    if not _EUI64_PATTERN.match(stripped):
        raise ValueError(
            f"invalid EUI-64 {text!r}: expected 16 hex digits, "
            "optionally with hyphens between byte pairs (00-DB-12-34-56-78-90-A0)"
        )
    return stripped.replace("-", "").upper()


def duis_device_id(device_id: str) -> str:
    """Return a canonical EUI-64 in the DUIS form with hyphens between byte pairs."""
    return "-".join(device_id[i : i + 2] for i in range(0, 16, 2))


@dataclass(frozen=True, slots=True, order=True)
class DeviceModelKey:
    """A Device Model: device type, manufacturer, model and firmware version."""

    device_type: DeviceType
    manufacturer: str
    model: str
    firmware_version: str

    def __str__(self) -> str:
        return f"{self.device_type.value}/{self.manufacturer}/{self.model}/{self.firmware_version}"

    @classmethod
    def parse(cls, text: str) -> DeviceModelKey:
        """Parse ``TYPE/MANUFACTURER/MODEL/FIRMWARE``, e.g. ``ESME/AB01/010A030B/0002012F``."""
        parts = text.strip().split("/")
        if len(parts) != 4 or not all(parts):
            raise ValueError(
                f"invalid Device Model {text!r}: expected TYPE/MANUFACTURER/MODEL/FIRMWARE, "
                "for example ESME/AB01/010A030B/0002012F"
            )
        try:
            device_type = DeviceType(parts[0])
        except ValueError:
            valid = ", ".join(t.value for t in DeviceType)
            raise ValueError(
                f"invalid device type {parts[0]!r} in Device Model {text!r}: "
                f"expected one of {valid}"
            ) from None
        return cls(device_type, parts[1], parts[2], parts[3])

    def is_firmware_sibling(self, other: DeviceModelKey) -> bool:
        """Return whether ``other`` differs from this model only in firmware version."""
        return (
            self.device_type == other.device_type
            and self.manufacturer == other.manufacturer
            and self.model == other.model
            and self.firmware_version != other.firmware_version
        )
