"""Routing against a store: decisions recorded, pending and cancelled requests, outcomes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ecos_migration.domain.device import DeviceType
from ecos_migration.domain.eligibility import EligibilityPolicy, Reason
from ecos_migration.domain.evidence import EvidenceKind, EvidenceSource
from ecos_migration.errors import NotFoundError, StateError
from ecos_migration.routing.codes import Route, RouteReason
from ecos_migration.routing.parties import Parties
from ecos_migration.routing.router import RequestChecker, RoutedRequest, route_documents
from ecos_migration.routing.trust import TrustStore
from ecos_migration.store.devices import get_device
from ecos_migration.store.events import device_events
from ecos_migration.store.evidence import evidence_for_device
from ecos_migration.store.routing import cos_requests_for_device, record_outcome
from routing_support import (
    ABSENT_DEVICE,
    AT,
    CANCELLATION,
    ECOS_DEVICE,
    FUTURE_DATED,
    HUB_DEVICE,
    MIGRATING_DEVICE,
    NETWORK_OPERATOR,
    OTHER_USER,
    SMETS1_DEVICE,
    SUPPLIER_BY_SUPPLIER,
    TCOS_DEVICE,
    TODAY,
    UNKNOWN_CREDENTIAL_DEVICE,
    load_devices,
    make_parties,
    make_trust_store,
    request_bytes,
    schema_path,
)

IN_SCOPE = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})
POLICY = EligibilityPolicy()


@pytest.fixture
def checker(smartdcc: Path, tmp_path: Path) -> RequestChecker:
    return RequestChecker(
        schema_path(smartdcc),
        TrustStore.from_folder(make_trust_store(smartdcc, tmp_path / "trust")),
        Parties.from_csv(make_parties(tmp_path / "parties.csv")),
    )


@pytest.fixture
def store(engine: Engine) -> Engine:
    load_devices(engine)
    return engine


def _route(engine: Engine, checker: RequestChecker, *documents: bytes) -> list[RoutedRequest]:
    return route_documents(
        engine,
        checker,
        list(documents),
        at=AT,
        in_scope_device_types=IN_SCOPE,
        eligibility_policy=POLICY,
    )


@pytest.mark.parametrize(
    ("device_id", "route", "reason"),
    [
        (TCOS_DEVICE, Route.TCOS_PARTY, None),
        (ECOS_DEVICE, Route.ECOS_PARTY, None),
        (UNKNOWN_CREDENTIAL_DEVICE, Route.HOLD, RouteReason.CREDENTIAL_UNKNOWN),
        (MIGRATING_DEVICE, Route.HOLD, RouteReason.MIGRATION_IN_PROGRESS),
        (SMETS1_DEVICE, Route.SMETS1_SERVICE_PROVIDER, None),
        (HUB_DEVICE, Route.REJECT, RouteReason.OUT_OF_SCOPE_DEVICE_TYPE),
        (ABSENT_DEVICE, Route.REJECT, RouteReason.DEVICE_UNKNOWN),
    ],
)
def test_route_immediate_request(  # noqa: PLR0917 - pytest passes fixtures by position
    store: Engine,
    checker: RequestChecker,
    smartdcc: Path,
    device_id: str,
    route: Route,
    reason: RouteReason | None,
) -> None:
    [routed] = _route(store, checker, request_bytes(smartdcc, device_id=device_id))
    assert routed.decision.route is route
    assert routed.decision.reason is reason
    assert routed.device_id == device_id
    if route is Route.HOLD:
        assert routed.decision.retry_after_seconds
        assert routed.to_json()["retry_after"] == routed.decision.retry_after_seconds
    else:
        assert "retry_after" not in routed.to_json()
    with store.connect() as connection:
        [row] = cos_requests_for_device(connection, device_id)
    assert row["decision"] == route.value
    assert row["reason"] == (reason.value if reason else None)
    assert row["request_id"] == routed.request_id
    assert row["originator"] == "90B3D51F30010000"
    assert row["status"] == "DECIDED"


def test_route_rejects_before_device(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    documents = {
        RouteReason.NOT_A_COS_REQUEST: request_bytes(smartdcc, SUPPLIER_BY_SUPPLIER),
        RouteReason.SIGNER_UNKNOWN: request_bytes(smartdcc, signer=None),
        RouteReason.SIGNER_NOT_ORIGINATOR: request_bytes(smartdcc, signer=OTHER_USER),
        RouteReason.ORIGINATOR_NOT_SUPPLIER: request_bytes(
            smartdcc, originator=NETWORK_OPERATOR, signer=NETWORK_OPERATOR
        ),
        RouteReason.UNSAFE_XML: (smartdcc / "duis" / "signed" / "duis-xxe.xml").read_bytes(),
        RouteReason.MALFORMED_XML: b"<sr:Request",
        RouteReason.SCHEMA_INVALID: b"<Request/>",
        RouteReason.SIGNATURE_INVALID: request_bytes(smartdcc).replace(
            b"1312345678333", b"1312345678334"
        ),
    }
    routed = _route(store, checker, *documents.values())
    for reason, item in zip(documents, routed, strict=True):
        assert item.decision.route is Route.REJECT, reason
        assert item.decision.reason is reason
    with store.connect() as connection:
        recorded = cos_requests_for_device(connection, TCOS_DEVICE)
    assert {row["reason"] for row in recorded} >= {
        RouteReason.SIGNER_UNKNOWN.value,
        RouteReason.SIGNER_NOT_ORIGINATOR.value,
        RouteReason.SIGNATURE_INVALID.value,
        RouteReason.NOT_A_COS_REQUEST.value,
    }


def test_future_dated_request_is_pending(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    [routed] = _route(store, checker, request_bytes(smartdcc, FUTURE_DATED, counter=1007))
    assert routed.decision.route is Route.TCOS_PARTY
    assert routed.status == "PENDING"
    with store.connect() as connection:
        row = get_device(connection, TCOS_DEVICE)
        events = device_events(connection, TCOS_DEVICE)
    assert row is not None
    assert row["cos_request_pending_until"] == date(2030, 1, 3)
    assert row["reason"] == Reason.COS_REQUEST_PENDING.value
    assert events[-1]["field"] == "cos_request_pending_until"
    assert events[-1]["reason"] == "COS_REQUEST_PENDING"


def test_cancellation_clears_pending(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    _route(store, checker, request_bytes(smartdcc, FUTURE_DATED, counter=1007))
    [cancel] = _route(store, checker, request_bytes(smartdcc, CANCELLATION, counter=1008))
    assert cancel.decision.route is Route.TCOS_PARTY
    assert cancel.status == "DECIDED"
    with store.connect() as connection:
        row = get_device(connection, TCOS_DEVICE)
        requests = cos_requests_for_device(connection, TCOS_DEVICE)
    assert row is not None
    assert row["cos_request_pending_until"] is None
    assert row["reason"] != Reason.COS_REQUEST_PENDING.value
    assert [r["status"] for r in requests] == ["CANCELLED", "DECIDED"]


def test_held_future_request_not_pending(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    [routed] = _route(
        store, checker, request_bytes(smartdcc, FUTURE_DATED, device_id=UNKNOWN_CREDENTIAL_DEVICE)
    )
    assert routed.decision.route is Route.HOLD
    with store.connect() as connection:
        row = get_device(connection, UNKNOWN_CREDENTIAL_DEVICE)
    assert row is not None
    assert row["cos_request_pending_until"] is None


def test_success_on_ecos_device_records_evidence(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    [routed] = _route(store, checker, request_bytes(smartdcc, device_id=ECOS_DEVICE))
    assert routed.request_id is not None
    later = AT + timedelta(days=1)
    with store.begin() as connection:
        result = record_outcome(
            connection, routed.request_id, succeeded=True, on=later.date(), now=later, policy=POLICY
        )
    assert result.status == "SUCCEEDED"
    assert result.evidence_recorded
    with store.connect() as connection:
        row = get_device(connection, ECOS_DEVICE)
        [evidence] = evidence_for_device(connection, ECOS_DEVICE)
        events = device_events(connection, ECOS_DEVICE)
    assert row is not None
    assert row["last_change_of_supplier_on"] == later.date()
    assert evidence.kind is EvidenceKind.SRV_6_23_SUCCESS
    assert evidence.source is EvidenceSource.RECORDED
    assert evidence.model_id == row["model_id"]
    assert evidence.reference == routed.request_id
    assert events[-1]["reason"] == "COS_COMPLETED"
    assert events[-1]["kind"] == "FACT_CHANGED"


def test_success_on_tcos_device_is_recent_cos(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    [routed] = _route(store, checker, request_bytes(smartdcc))
    assert routed.request_id is not None
    with store.begin() as connection:
        result = record_outcome(
            connection, routed.request_id, succeeded=True, on=TODAY, now=AT, policy=POLICY
        )
    assert not result.evidence_recorded
    with store.connect() as connection:
        row = get_device(connection, TCOS_DEVICE)
        assert evidence_for_device(connection, TCOS_DEVICE) == []
    assert row is not None
    assert row["reason"] == Reason.RECENT_CHANGE_OF_SUPPLIER.value


def test_failure_changes_no_device(store: Engine, checker: RequestChecker, smartdcc: Path) -> None:
    [routed] = _route(store, checker, request_bytes(smartdcc, device_id=ECOS_DEVICE))
    assert routed.request_id is not None
    with store.begin() as connection:
        result = record_outcome(
            connection, routed.request_id, succeeded=False, on=TODAY, now=AT, policy=POLICY
        )
    assert result.status == "FAILED"
    with store.connect() as connection:
        row = get_device(connection, ECOS_DEVICE)
        assert evidence_for_device(connection, ECOS_DEVICE) == []
    assert row is not None
    assert row["last_change_of_supplier_on"] is None


def test_outcome_errors(store: Engine, checker: RequestChecker, smartdcc: Path) -> None:
    [routed] = _route(store, checker, request_bytes(smartdcc))
    [held] = _route(store, checker, request_bytes(smartdcc, device_id=MIGRATING_DEVICE, counter=2))
    assert routed.request_id is not None
    assert held.request_id is not None
    with store.begin() as connection:
        record_outcome(
            connection, routed.request_id, succeeded=True, on=TODAY, now=AT, policy=POLICY
        )
    with store.begin() as connection, pytest.raises(StateError, match="already SUCCEEDED"):
        record_outcome(
            connection, routed.request_id, succeeded=True, on=TODAY, now=AT, policy=POLICY
        )
    with store.begin() as connection, pytest.raises(NotFoundError):
        record_outcome(connection, held.request_id, succeeded=True, on=TODAY, now=AT, policy=POLICY)
    with store.begin() as connection, pytest.raises(NotFoundError):
        record_outcome(connection, "absent", succeeded=True, on=TODAY, now=AT, policy=POLICY)


def test_replay_not_forwarded_again(store: Engine, checker: RequestChecker, smartdcc: Path) -> None:
    document = request_bytes(smartdcc)
    [first] = _route(store, checker, document)
    [replay] = _route(store, checker, document)
    [in_batch, again] = _route(store, checker, *[request_bytes(smartdcc, counter=5)] * 2)
    assert not first.replay
    assert replay.replay
    assert replay.decision.route is Route.TCOS_PARTY
    assert replay.request_id == first.request_id
    assert replay.to_json()["replay"] is True
    assert not in_batch.replay
    assert again.replay
    with store.connect() as connection:
        requests = cos_requests_for_device(connection, TCOS_DEVICE)
    assert [r["request_id"] for r in requests] == [first.request_id, in_batch.request_id]


def test_held_request_decided_again(store: Engine, checker: RequestChecker, smartdcc: Path) -> None:
    document = request_bytes(smartdcc, device_id=MIGRATING_DEVICE)
    [first] = _route(store, checker, document)
    [second] = _route(store, checker, document)
    assert first.decision.route is second.decision.route is Route.HOLD
    assert not second.replay
    with store.connect() as connection:
        assert len(cos_requests_for_device(connection, MIGRATING_DEVICE)) == 2


def test_outcome_once_per_request_id(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    document = request_bytes(smartdcc)
    [routed] = _route(store, checker, document)
    assert routed.request_id is not None
    with store.begin() as connection:
        record_outcome(
            connection, routed.request_id, succeeded=True, on=TODAY, now=AT, policy=POLICY
        )
    [replay] = _route(store, checker, document)
    assert replay.status == "SUCCEEDED"
    with store.begin() as connection, pytest.raises(StateError, match="already SUCCEEDED"):
        record_outcome(
            connection, routed.request_id, succeeded=False, on=TODAY, now=AT, policy=POLICY
        )


def test_future_and_cancellation_in_one_batch(
    store: Engine, checker: RequestChecker, smartdcc: Path
) -> None:
    future, cancel = _route(
        store,
        checker,
        request_bytes(smartdcc, FUTURE_DATED, counter=1007),
        request_bytes(smartdcc, CANCELLATION, counter=1008),
    )
    assert future.status == "PENDING"
    assert cancel.status == "DECIDED"
    with store.connect() as connection:
        row = get_device(connection, TCOS_DEVICE)
        requests = cos_requests_for_device(connection, TCOS_DEVICE)
        events = device_events(connection, TCOS_DEVICE)
    assert row is not None
    assert row["cos_request_pending_until"] is None
    assert row["reason"] != Reason.COS_REQUEST_PENDING.value
    assert [r["status"] for r in requests] == ["CANCELLED", "DECIDED"]
    assert [e["reason"] for e in events if e["field"] == "cos_request_pending_until"] == [
        "COS_REQUEST_PENDING",
        "COS_REQUEST_CANCELLED",
    ]
