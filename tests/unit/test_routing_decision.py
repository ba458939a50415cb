"""The pure routing rule: one decision per device record."""

from __future__ import annotations

import pytest

from ecos_migration.domain.device import Credential, DeviceType, Generation, MigrationState
from ecos_migration.routing.codes import Route, RouteReason
from ecos_migration.routing.decision import RoutingDevice, RoutingPolicy, decide_route
from ecos_migration.routing.duis import CosRequest

IN_SCOPE = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})
POLICY = RoutingPolicy(
    migration_in_progress_retry_after_seconds=600, credential_unknown_retry_after_seconds=7200
)
REQUEST = CosRequest(
    "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1",
    "90B3D51F30010000",
    "00DB1234567890A0",
    "6.23",
)


def _device(
    credential: Credential = Credential.TCOS,
    *,
    device_type: DeviceType = DeviceType.ESME,
    generation: Generation = Generation.SMETS2,
    migration_state: MigrationState = MigrationState.NOT_STARTED,
) -> RoutingDevice:
    return RoutingDevice("00DB1234567890A0", device_type, generation, credential, migration_state)


@pytest.mark.parametrize(
    ("device", "route", "reason", "retry_after"),
    [
        (_device(Credential.TCOS), Route.TCOS_PARTY, None, None),
        (_device(Credential.ECOS), Route.ECOS_PARTY, None, None),
        (_device(Credential.ECOS, device_type=DeviceType.GPF), Route.ECOS_PARTY, None, None),
        (_device(Credential.TCOS, device_type=DeviceType.GSME), Route.TCOS_PARTY, None, None),
        (_device(Credential.UNKNOWN), Route.HOLD, RouteReason.CREDENTIAL_UNKNOWN, 7200),
        (_device(Credential.NOT_APPLICABLE), Route.HOLD, RouteReason.CREDENTIAL_UNKNOWN, 7200),
        (
            _device(Credential.TCOS, migration_state=MigrationState.IN_PROGRESS),
            Route.HOLD,
            RouteReason.MIGRATION_IN_PROGRESS,
            600,
        ),
        (
            _device(Credential.UNKNOWN, migration_state=MigrationState.IN_PROGRESS),
            Route.HOLD,
            RouteReason.MIGRATION_IN_PROGRESS,
            600,
        ),
        (
            _device(Credential.NOT_APPLICABLE, generation=Generation.SMETS1),
            Route.SMETS1_SERVICE_PROVIDER,
            None,
            None,
        ),
        (
            _device(Credential.NOT_APPLICABLE, device_type=DeviceType.CHF),
            Route.REJECT,
            RouteReason.OUT_OF_SCOPE_DEVICE_TYPE,
            None,
        ),
        (
            _device(Credential.TCOS, device_type=DeviceType.IHD),
            Route.REJECT,
            RouteReason.OUT_OF_SCOPE_DEVICE_TYPE,
            None,
        ),
        (None, Route.REJECT, RouteReason.DEVICE_UNKNOWN, None),
    ],
)
def test_decide_route_cases(
    device: RoutingDevice | None, route: Route, reason: RouteReason | None, retry_after: int | None
) -> None:
    decision = decide_route(REQUEST, device, IN_SCOPE, POLICY)
    assert decision.route is route
    assert decision.reason is reason
    assert decision.retry_after_seconds == retry_after
    assert decision.detail


def test_decide_route_in_scope_types_are_policy() -> None:
    device = _device(Credential.TCOS, device_type=DeviceType.GSME)
    decision = decide_route(REQUEST, device, frozenset({DeviceType.ESME}), POLICY)
    assert decision.route is Route.REJECT
    assert decision.reason is RouteReason.OUT_OF_SCOPE_DEVICE_TYPE


def test_forwarded_routes() -> None:
    assert {route for route in Route if route.is_forwarded} == {
        Route.TCOS_PARTY,
        Route.ECOS_PARTY,
        Route.SMETS1_SERVICE_PROVIDER,
    }
