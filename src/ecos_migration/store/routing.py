"""CoS request rows: the devices routing reads, recorded decisions, pending requests, outcomes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from ecos_migration.domain.device import Credential, DeviceType, Generation, MigrationState
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.errors import NotFoundError, StateError
from ecos_migration.routing.codes import Route
from ecos_migration.routing.decision import RoutingDevice
from ecos_migration.store.eligibility import refresh_devices
from ecos_migration.store.events import DeviceEvent, append_device_events
from ecos_migration.store.evidence import add_evidence
from ecos_migration.store.schema import cos_request, device

BATCH_SIZE = 5000
ACTOR = "routing"

# Values of cos_request.status.
DECIDED = "DECIDED"
PENDING = "PENDING"
CANCELLED = "CANCELLED"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Built once: constructing and coercing the statement on every request costs more than the
# SQLite lookup itself.
_ROUTING_COLUMNS = select(
    device.c.id,
    device.c.device_type,
    device.c.generation,
    device.c.credential,
    device.c.migration_state,
)
_ROUTING_SELECT = _ROUTING_COLUMNS.where(device.c.id.in_(bindparam("ids", expanding=True)))
# An expanding IN is rendered again on every execution. So one device, the common case of a
# lightly loaded service, uses a statement that is compiled once.
_ROUTING_SELECT_ONE = _ROUTING_COLUMNS.where(device.c.id == bindparam("id"))
_INSERT_COS_REQUEST = insert(cos_request)


def routing_devices(connection: Connection, device_ids: Iterable[str]) -> dict[str, RoutingDevice]:
    """Return the routing facts of the named devices that are in the inventory."""
    ids = list(dict.fromkeys(device_ids))
    found: dict[str, RoutingDevice] = {}
    if len(ids) == 1:
        results = [connection.execute(_ROUTING_SELECT_ONE, {"id": ids[0]})]
    else:
        results = [
            connection.execute(_ROUTING_SELECT, {"ids": list(chunk)})
            for chunk in _chunks(ids, BATCH_SIZE)
        ]
    for result in results:
        for row in result:
            found[row.id] = RoutingDevice(
                device_id=row.id,
                device_type=DeviceType(row.device_type),
                generation=Generation(row.generation),
                credential=Credential(row.credential),
                migration_state=MigrationState(row.migration_state),
            )
    return found


@dataclass(frozen=True, slots=True)
class CosRequestRow:
    """One routing decision as it is recorded."""

    request_id: str
    device_id: str | None
    originator: str | None
    service_reference: str | None
    decision: str
    reason: str | None
    received_at: datetime
    execution_at: datetime | None
    status: str


def record_cos_requests(connection: Connection, rows: Sequence[CosRequestRow]) -> int:
    """Insert routing decisions in one batch; return how many were written."""
    values = [
        {
            "request_id": row.request_id,
            "device_id": row.device_id,
            "originator": row.originator,
            "service_reference": row.service_reference,
            "decision": row.decision,
            "reason": row.reason,
            "received_at": row.received_at,
            "execution_at": row.execution_at,
            "status": row.status,
        }
        for row in rows
    ]
    if values:
        connection.execute(_INSERT_COS_REQUEST, values)
    return len(values)


@dataclass(frozen=True, slots=True)
class ForwardedRequest:
    """The first forwarded decision recorded for a RequestID, which a replay gets again."""

    request_id: str
    device_id: str | None
    decision: str
    status: str
    received_at: datetime


_FORWARDED = [route.value for route in Route if route.is_forwarded]


def forwarded_requests(
    connection: Connection, request_ids: Iterable[str]
) -> dict[tuple[str, str | None], ForwardedRequest]:
    """Return the first forwarded decision of each named RequestID, by (RequestID, originator)."""
    found: dict[tuple[str, str | None], ForwardedRequest] = {}
    ids = list(dict.fromkeys(request_ids))
    for chunk in _chunks(ids, BATCH_SIZE):
        rows = connection.execute(
            select(cos_request)
            .where(cos_request.c.request_id.in_(chunk), cos_request.c.decision.in_(_FORWARDED))
            .order_by(cos_request.c.id)
        )
        for row in rows:
            found.setdefault(
                (row.request_id, row.originator),
                ForwardedRequest(
                    row.request_id, row.device_id, row.decision, row.status, row.received_at
                ),
            )
    return found


def set_cos_request_pending(
    connection: Connection,
    pending_until: Mapping[str, date | None],
    *,
    on: date,
    now: datetime,
    policy: EligibilityPolicy,
) -> int:
    """Set or clear ``device.cos_request_pending_until`` and evaluate those devices again.

    ``None`` clears the date (a cancellation) and marks the device's PENDING requests
    CANCELLED. Each change is recorded as a FACT_CHANGED event. Return how many devices changed.
    """
    ids = list(pending_until)
    old: dict[str, date | None] = {}
    for chunk in _chunks(ids, BATCH_SIZE):
        rows = connection.execute(
            select(device.c.id, device.c.cos_request_pending_until).where(device.c.id.in_(chunk))
        )
        old.update({row.id: row.cos_request_pending_until for row in rows})
    changed = [
        device_id
        for device_id in ids
        if device_id in old and old[device_id] != pending_until[device_id]
    ]
    if not changed:
        return 0

    connection.execute(
        update(device)
        .where(device.c.id == bindparam("b_id"))
        .values(cos_request_pending_until=bindparam("b_until")),
        [{"b_id": device_id, "b_until": pending_until[device_id]} for device_id in changed],
    )
    cancelled = [device_id for device_id in changed if pending_until[device_id] is None]
    for chunk in _chunks(cancelled, BATCH_SIZE):
        connection.execute(
            update(cos_request)
            .where(cos_request.c.device_id.in_(chunk), cos_request.c.status == PENDING)
            .values(status=CANCELLED, outcome_at=now)
        )
    append_device_events(
        connection,
        [
            DeviceEvent(
                device_id,
                on,
                "FACT_CHANGED",
                field="cos_request_pending_until",
                old_value=_text(old[device_id]),
                new_value=_text(pending_until[device_id]),
                actor=ACTOR,
                reason="COS_REQUEST_PENDING"
                if pending_until[device_id]
                else "COS_REQUEST_CANCELLED",
            )
            for device_id in changed
        ],
        now,
    )
    refresh_devices(connection, changed, on, policy)
    return len(changed)


def _text(value: date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    """The changes made by recording an outcome."""

    request_id: str
    device_id: str
    status: str
    evidence_recorded: bool


_OUTCOMES = (SUCCEEDED, FAILED, CANCELLED)


def _forwarded_row(connection: Connection, request_id: str) -> Mapping[str, Any]:
    """Return the row of a forwarded request; raise ``StateError`` if its RequestID has an outcome.

    Replays are not recorded, but databases written before that may hold a RequestID
    forwarded twice: an outcome on any of its rows counts for the RequestID.
    """
    rows = [
        dict(row._mapping)
        for row in connection.execute(
            select(cos_request)
            .where(cos_request.c.request_id == request_id, cos_request.c.decision.in_(_FORWARDED))
            .order_by(cos_request.c.id)
        )
    ]
    if not rows:
        raise NotFoundError(
            f"no CoS request {request_id!r} was routed to a party: only forwarded requests "
            "have an outcome (check the RequestID, e.g. with `ecos-migration route`)"
        )
    for row in rows:
        if row["status"] in _OUTCOMES:
            raise StateError(
                f"CoS request {request_id!r} is already {row['status']}; "
                "an outcome is recorded once"
            )
    return rows[-1]


def record_outcome(
    connection: Connection,
    request_id: str,
    *,
    succeeded: bool,
    on: date,
    now: datetime,
    policy: EligibilityPolicy,
) -> OutcomeResult:
    """Record the outcome of a forwarded CoS request.

    A success sets the device's ``last_change_of_supplier_on`` (a FACT_CHANGED event with the
    reason COS_COMPLETED), evaluates the device again and, for a device holding ECOS, records
    SRV_6_23_SUCCESS evidence for its Device Model. Raises ``NotFoundError`` for a request never
    forwarded and ``StateError`` for one that already has an outcome or was cancelled.
    """
    row = _forwarded_row(connection, request_id)
    status = SUCCEEDED if succeeded else FAILED
    connection.execute(
        update(cos_request)
        .where(cos_request.c.id == row["id"])
        .values(status=status, outcome_at=now)
    )
    device_id: str = row["device_id"]
    target = connection.execute(
        select(
            device.c.model_id,
            device.c.credential,
            device.c.last_change_of_supplier_on,
            device.c.cos_request_pending_until,
        ).where(device.c.id == device_id)
    ).first()
    if target is None or not succeeded:
        return OutcomeResult(request_id, device_id, status, evidence_recorded=False)

    connection.execute(
        update(device)
        .where(device.c.id == device_id)
        .values(last_change_of_supplier_on=on, cos_request_pending_until=None)
    )
    events = [
        DeviceEvent(
            device_id,
            on,
            "FACT_CHANGED",
            field="last_change_of_supplier_on",
            old_value=_text(target.last_change_of_supplier_on),
            new_value=on.isoformat(),
            actor=ACTOR,
            reason="COS_COMPLETED",
        )
    ]
    if target.cos_request_pending_until is not None:
        events.append(
            DeviceEvent(
                device_id,
                on,
                "FACT_CHANGED",
                field="cos_request_pending_until",
                old_value=_text(target.cos_request_pending_until),
                actor=ACTOR,
                reason="COS_COMPLETED",
            )
        )
    append_device_events(connection, events, now)
    refresh_devices(connection, [device_id], on, policy)

    evidence_recorded = target.credential == Credential.ECOS.value
    if evidence_recorded:
        add_evidence(
            connection,
            [
                Evidence(
                    device_id=device_id,
                    kind=EvidenceKind.SRV_6_23_SUCCESS,
                    occurred_on=on,
                    source=EvidenceSource.RECORDED,
                    model_id=target.model_id,
                    reference=request_id,
                )
            ],
        )
    return OutcomeResult(request_id, device_id, status, evidence_recorded)


def cos_requests_for_device(connection: Connection, device_id: str) -> list[dict[str, Any]]:
    """Return the recorded CoS requests of a device, oldest first."""
    rows = connection.execute(
        select(cos_request).where(cos_request.c.device_id == device_id).order_by(cos_request.c.id)
    )
    return [dict(row._mapping) for row in rows]
