"""The routing decision: one pure function from a verified 6.23 request and its device's record.

A command signed by the wrong party fails at the device, so the rule never guesses: a device
that is unknown, whose credential is unknown, or whose migration step is in flight is held or
rejected with a reason the sender can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecos_migration.domain.device import Credential, DeviceType, Generation, MigrationState
from ecos_migration.routing.codes import Route, RouteReason, RoutingDecision
from ecos_migration.routing.duis import CosRequest
from ecos_migration.routing.environment import DEFAULT_MAX_REQUEST_BYTES


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """Settings of routing: the request size limit and how long a held request should wait."""

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    migration_in_progress_retry_after_seconds: int = 3600
    credential_unknown_retry_after_seconds: int = 86400


@dataclass(frozen=True, slots=True)
class RoutingDevice:
    """The facts of a device that decide where its CoS request goes."""

    device_id: str
    device_type: DeviceType
    generation: Generation
    credential: Credential
    migration_state: MigrationState


def decide_route(
    request: CosRequest,
    device: RoutingDevice | None,
    in_scope_device_types: frozenset[DeviceType],
    policy: RoutingPolicy,
) -> RoutingDecision:
    """Return where a verified SRV 6.23 request goes, given its target device's record.

    Order: unknown device, SMETS1, device type without a CoS trust anchor, migration in
    flight, credential not known to be TCOS or ECOS; then the party whose certificate the
    device holds.
    """
    if device is None:
        return RoutingDecision(
            Route.REJECT,
            RouteReason.DEVICE_UNKNOWN,
            f"device {request.device_id} is not in the inventory",
        )
    if device.generation is Generation.SMETS1:
        return RoutingDecision(
            Route.SMETS1_SERVICE_PROVIDER,
            detail=f"device {device.device_id} is SMETS1; its CoS is handled by the "
            "SMETS1 Service Provider",
        )
    if device.device_type not in in_scope_device_types:
        return RoutingDecision(
            Route.REJECT,
            RouteReason.OUT_OF_SCOPE_DEVICE_TYPE,
            f"device {device.device_id} is a {device.device_type.value}, "
            "which holds no CoS certificate",
        )
    if device.migration_state is MigrationState.IN_PROGRESS:
        return RoutingDecision(
            Route.HOLD,
            RouteReason.MIGRATION_IN_PROGRESS,
            f"the CoS certificate of device {device.device_id} is being replaced; "
            "send the request again after the retry time",
            policy.migration_in_progress_retry_after_seconds,
        )
    if device.credential is Credential.TCOS:
        return RoutingDecision(
            Route.TCOS_PARTY, detail=f"device {device.device_id} holds a TCoS certificate"
        )
    if device.credential is Credential.ECOS:
        return RoutingDecision(
            Route.ECOS_PARTY, detail=f"device {device.device_id} holds an ECoS certificate"
        )
    return RoutingDecision(
        Route.HOLD,
        RouteReason.CREDENTIAL_UNKNOWN,
        f"whether device {device.device_id} holds a TCoS or an ECoS certificate is not known "
        "until its security credentials are read; send the request again after the retry time",
        policy.credential_unknown_retry_after_seconds,
    )
