"""Eligibility: whether a device may be migrated on a date, and the primary reason if not.

The rule has two halves so that a store can cache the device half per device and join the
model half at selection time, which keeps suspending a Device Model a one-row change:

- ``evaluate_device`` applies every device-level condition and returns the primary
  device-level reason with the date that result stops holding;
- ``primary_reason`` combines that reason with the condition of the device's Device Model,
  following the precedence of ``Reason``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)


class Reason(enum.StrEnum):
    """Why a device is not eligible. Declaration order is precedence: the first that applies wins.

    Structural causes come before passing ones, so a report counts each device once under the
    cause that must be removed first.
    """

    OUT_OF_SCOPE_SMETS1 = "OUT_OF_SCOPE_SMETS1"
    OUT_OF_SCOPE_DEVICE_TYPE = "OUT_OF_SCOPE_DEVICE_TYPE"
    ALREADY_ECOS = "ALREADY_ECOS"
    MIGRATION_IN_PROGRESS = "MIGRATION_IN_PROGRESS"
    AWAITING_REMEDIATION = "AWAITING_REMEDIATION"
    NOT_COMMISSIONED = "NOT_COMMISSIONED"
    GPF_HUB_NOT_COMMISSIONED = "GPF_HUB_NOT_COMMISSIONED"
    MODEL_NON_MIGRATABLE = "MODEL_NON_MIGRATABLE"
    MODEL_SUSPENDED = "MODEL_SUSPENDED"
    CREDENTIAL_UNKNOWN = "CREDENTIAL_UNKNOWN"
    COMMS_FAILURE = "COMMS_FAILURE"
    COS_REQUEST_PENDING = "COS_REQUEST_PENDING"
    RECENT_CHANGE_OF_SUPPLIER = "RECENT_CHANGE_OF_SUPPLIER"
    RECENTLY_COMMISSIONED = "RECENTLY_COMMISSIONED"

    @property
    def rank(self) -> int:
        """Position in the precedence order; lower wins."""
        return _RANK[self]

    @property
    def description(self) -> str:
        """One sentence for reports and help text."""
        return REASON_DESCRIPTIONS[self]


_RANK = {reason: index for index, reason in enumerate(Reason)}

REASON_DESCRIPTIONS: dict[Reason, str] = {
    Reason.OUT_OF_SCOPE_SMETS1: "SMETS1 device: it holds no DCC CoS certificate.",
    Reason.OUT_OF_SCOPE_DEVICE_TYPE: "Device type without a CoS trust anchor.",
    Reason.ALREADY_ECOS: "The device already holds an ECoS certificate.",
    Reason.MIGRATION_IN_PROGRESS: "A migration attempt has started and has no outcome yet.",
    Reason.AWAITING_REMEDIATION: "Attempts ran out; the device waits for the required action.",
    Reason.NOT_COMMISSIONED: "The SMI status does not qualify for migration.",
    Reason.GPF_HUB_NOT_COMMISSIONED: "The GPF's communications hub is not Commissioned.",
    Reason.MODEL_NON_MIGRATABLE: "The Device Model is Non-Migratable.",
    Reason.MODEL_SUSPENDED: "The Device Model is suspended.",
    Reason.CREDENTIAL_UNKNOWN: "Nobody knows whether the device holds TCoS or ECoS.",
    Reason.COMMS_FAILURE: "Communications with the device are not working.",
    Reason.COS_REQUEST_PENDING: "A CoS request for the device waits to be executed.",
    Reason.RECENT_CHANGE_OF_SUPPLIER: "The device changed supplier recently.",
    Reason.RECENTLY_COMMISSIONED: "The device was commissioned recently.",
}


class ModelCondition(enum.StrEnum):
    """The part of a Device Model's state that makes its devices ineligible."""

    NONE = "NONE"
    NON_MIGRATABLE = "NON_MIGRATABLE"
    SUSPENDED = "SUSPENDED"


DEFAULT_IN_SCOPE_TYPES = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})


@dataclass(frozen=True, slots=True)
class EligibilityPolicy:
    """The configurable parts of the eligibility rule."""

    in_scope_device_types: frozenset[DeviceType] = DEFAULT_IN_SCOPE_TYPES
    recently_commissioned_days: int = 14
    recent_change_of_supplier_days: int = 28


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the eligibility rule needs to know about one device.

    ``hub_status`` is the SMI status of a GPF's communications hub function, or ``None``
    when the device is not a GPF or its CHF is not in the inventory.
    """

    generation: Generation
    device_type: DeviceType
    smi_status: SmiStatus
    credential: Credential = Credential.TCOS
    comms_status: CommsStatus = CommsStatus.OK
    migration_state: MigrationState = MigrationState.NOT_STARTED
    hub_status: SmiStatus | None = None
    commissioned_on: date | None = None
    last_change_of_supplier_on: date | None = None
    cos_request_pending_until: date | None = None


@dataclass(frozen=True, slots=True)
class DeviceEligibility:
    """The device-level result: its primary reason, and the first date it may no longer hold.

    ``reason`` is ``None`` when no device-level condition applies. ``until`` is ``None`` when
    the result holds until the device's facts change; otherwise the result holds on every
    date before ``until`` and must be evaluated again on that date.
    """

    reason: Reason | None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class _Transient:
    reason: Reason
    until: date


_GPF_QUALIFYING_STATUSES = frozenset({SmiStatus.COMMISSIONED, SmiStatus.INSTALLED_NOT_COMMISSIONED})


def _structural_before_model(facts: DeviceFacts, policy: EligibilityPolicy) -> Reason | None:
    if facts.generation is Generation.SMETS1:
        return Reason.OUT_OF_SCOPE_SMETS1
    if facts.device_type not in policy.in_scope_device_types:
        return Reason.OUT_OF_SCOPE_DEVICE_TYPE
    if facts.credential is Credential.ECOS or facts.migration_state is MigrationState.MIGRATED:
        return Reason.ALREADY_ECOS
    if facts.migration_state is MigrationState.IN_PROGRESS:
        return Reason.MIGRATION_IN_PROGRESS
    if facts.migration_state is MigrationState.AWAITING_REMEDIATION:
        return Reason.AWAITING_REMEDIATION
    if facts.device_type is DeviceType.GPF:
        if facts.smi_status not in _GPF_QUALIFYING_STATUSES:
            return Reason.NOT_COMMISSIONED
        if facts.hub_status is not SmiStatus.COMMISSIONED:
            return Reason.GPF_HUB_NOT_COMMISSIONED
    elif facts.smi_status is not SmiStatus.COMMISSIONED:
        return Reason.NOT_COMMISSIONED
    return None


def _structural_after_model(facts: DeviceFacts) -> Reason | None:
    if facts.credential is not Credential.TCOS:
        return Reason.CREDENTIAL_UNKNOWN
    if facts.comms_status is CommsStatus.FAILED:
        return Reason.COMMS_FAILURE
    return None


def _active_transients(facts: DeviceFacts, on: date, policy: EligibilityPolicy) -> list[_Transient]:
    """Return the transient conditions in force on ``on``, in precedence order."""
    candidates: list[_Transient] = []
    if facts.cos_request_pending_until is not None:
        candidates.append(_Transient(Reason.COS_REQUEST_PENDING, facts.cos_request_pending_until))
    if facts.last_change_of_supplier_on is not None:
        candidates.append(
            _Transient(
                Reason.RECENT_CHANGE_OF_SUPPLIER,
                facts.last_change_of_supplier_on
                + timedelta(days=policy.recent_change_of_supplier_days),
            )
        )
    if facts.commissioned_on is not None:
        candidates.append(
            _Transient(
                Reason.RECENTLY_COMMISSIONED,
                facts.commissioned_on + timedelta(days=policy.recently_commissioned_days),
            )
        )
    return [transient for transient in candidates if transient.until > on]


def evaluate_device(
    facts: DeviceFacts, on: date, policy: EligibilityPolicy = EligibilityPolicy()
) -> DeviceEligibility:
    """Return the primary device-level reason on ``on`` and the date it may stop holding.

    Model-level reasons are left out here; ``primary_reason`` adds them.
    """
    before = _structural_before_model(facts, policy)
    if before is not None:
        return DeviceEligibility(before)
    after = _structural_after_model(facts)
    if after is not None:
        return DeviceEligibility(after)
    transients = _active_transients(facts, on, policy)
    if not transients:
        return DeviceEligibility(None)
    # The first transient in precedence order is primary while it lasts; once it ends the
    # next one may take over, so the result must be evaluated again on its end date.
    first = transients[0]
    return DeviceEligibility(first.reason, first.until)


def primary_reason(device_reason: Reason | None, model_condition: ModelCondition) -> Reason | None:
    """Combine a device-level reason with its Device Model's condition by precedence."""
    model_reason = {
        ModelCondition.NONE: None,
        ModelCondition.NON_MIGRATABLE: Reason.MODEL_NON_MIGRATABLE,
        ModelCondition.SUSPENDED: Reason.MODEL_SUSPENDED,
    }[model_condition]
    if model_reason is None:
        return device_reason
    if device_reason is None or model_reason.rank < device_reason.rank:
        return model_reason
    return device_reason


def evaluate(
    facts: DeviceFacts,
    model_condition: ModelCondition,
    on: date,
    policy: EligibilityPolicy = EligibilityPolicy(),
) -> Reason | None:
    """Return the primary reason a device is ineligible on ``on``, or ``None`` if it is eligible."""
    return primary_reason(evaluate_device(facts, on, policy).reason, model_condition)


def is_in_scope(reason: Reason | None) -> bool:
    """Return whether a device with this primary reason is SMETS2+ and of an in-scope type."""
    return reason not in (Reason.OUT_OF_SCOPE_SMETS1, Reason.OUT_OF_SCOPE_DEVICE_TYPE)
