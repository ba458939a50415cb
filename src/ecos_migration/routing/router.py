"""Checking and routing DUIS requests: the steps the command line and the HTTP service share.

``RequestChecker`` runs the checks that need no database (size, safe parsing, schema,
service reference, signature, signer, originator). ``route_documents`` checks a batch,
reads the target devices in one query, applies the pure routing rule and records every
decision, and every pending or cancelled future-dated request, in one transaction. A replay
of a forwarded request gets the earlier decision and is not recorded again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from ecos_migration.domain.device import DeviceType
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.routing.codes import RejectedRequestError, Route, RoutingDecision
from ecos_migration.routing.decision import RoutingPolicy, decide_route
from ecos_migration.routing.duis import (
    CosRequest,
    RequestHeader,
    parse_document,
    read_cos_request,
    read_header,
    require_cos_request,
)
from ecos_migration.routing.parties import Parties
from ecos_migration.routing.schema import load_schema, validate
from ecos_migration.routing.signature import verify_signature
from ecos_migration.routing.trust import TrustStore
from ecos_migration.store import routing as routing_store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A request that passed every check, or the rejection, with what could be read of it."""

    header: RequestHeader | None
    request: CosRequest | None = None
    rejection: RejectedRequestError | None = None


class RequestChecker:
    """The checks of a request that need no database.

    Not for concurrent use from several threads: lxml schema validation keeps its error log
    on the schema object. The HTTP service calls it from one routing thread only.
    """

    def __init__(
        self,
        schema_path: Path,
        trust_store: TrustStore,
        parties: Parties,
        policy: RoutingPolicy | None = None,
    ) -> None:
        self.schema = load_schema(schema_path)
        self.trust_store = trust_store
        self.parties = parties
        self.policy = policy or RoutingPolicy()

    def check(self, data: bytes, at: datetime) -> CheckResult:
        """Check one request at validation time ``at``; never raises ``RejectedRequestError``."""
        header: RequestHeader | None = None
        try:
            root = parse_document(data, self.policy.max_request_bytes)
            validate(self.schema, root)
            header = read_header(root)
            require_cos_request(header)
            request = read_cos_request(root, header)
            # The tree is dropped after the checks, so the digest may take the signature out.
            signer = verify_signature(root, self.trust_store, detach=True)
            signer.check(at, request.originator)
            self.parties.require_importing_supplier(request.originator)
        except RejectedRequestError as rejection:
            return CheckResult(header, rejection=rejection)
        return CheckResult(header, request=request)


@dataclass(frozen=True, slots=True)
class RoutedRequest:
    """The decision for one request, with the identifiers read from it."""

    request_id: str | None
    device_id: str | None
    decision: RoutingDecision
    status: str
    replay: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the decision as the JSON object both front ends print."""
        data: dict[str, Any] = {
            "request_id": self.request_id,
            "device_id": self.device_id,
            "decision": self.decision.route.value,
            "reason": self.decision.reason.value if self.decision.reason else None,
        }
        if self.decision.retry_after_seconds is not None:
            data["retry_after"] = self.decision.retry_after_seconds
        data["detail"] = self.decision.detail
        data["replay"] = self.replay
        return data


def pending_until(execution_at: datetime) -> date:
    """Return the first day on which a request executing at ``execution_at`` no longer waits."""
    return execution_at.date() + timedelta(days=1)


def _status(result: CheckResult, decision: RoutingDecision, at: datetime) -> str:
    request = result.request
    if request is None or not decision.route.is_forwarded:
        return routing_store.DECIDED
    if request.is_future_dated(at):
        return routing_store.PENDING
    return routing_store.DECIDED


def route_documents(
    engine: Engine,
    checker: RequestChecker,
    documents: Sequence[bytes],
    *,
    at: datetime,
    in_scope_device_types: frozenset[DeviceType],
    eligibility_policy: EligibilityPolicy,
    on_checked: Callable[[], None] | None = None,
) -> list[RoutedRequest]:
    """Check, route and record a batch of requests received at ``at``; return the decisions.

    The requests are applied in order, each seeing the effects of those before it, as if each
    had been routed alone. A request whose RequestID was already forwarded for the same
    originator is a replay: it gets the earlier decision and is neither forwarded nor recorded
    again. ``on_checked`` is called after each request's checks, e.g. to advance a progress bar.
    """
    results: list[CheckResult] = []
    for data in documents:
        results.append(checker.check(data, at))
        if on_checked is not None:
            on_checked()
    targets = [r.request.device_id for r in results if r.request is not None]
    request_ids = [r.request.request_id for r in results if r.request is not None]
    with engine.begin() as connection:
        devices = routing_store.routing_devices(connection, targets) if targets else {}
        forwarded = routing_store.forwarded_requests(connection, request_ids) if request_ids else {}
        batch = _Batch(connection, at, eligibility_policy)
        routed: list[RoutedRequest] = []
        for result in results:
            request = result.request
            earlier = (
                forwarded.get((request.request_id, request.originator))
                if request is not None
                else None
            )
            if earlier is not None:
                routed.append(_replay(earlier))
                continue
            decision = _decide(result, devices, checker.policy, in_scope_device_types)
            status = _status(result, decision, at)
            row = _row(result, decision, status, at)
            if request is not None and decision.route.is_forwarded:
                forwarded[request.request_id, request.originator] = routing_store.ForwardedRequest(
                    row.request_id, row.device_id, row.decision, row.status, row.received_at
                )
                if request.is_cancellation:
                    batch.add(row, request.device_id, None)
                elif status == routing_store.PENDING and request.execution_at is not None:
                    batch.add(row, request.device_id, pending_until(request.execution_at))
                else:
                    batch.add(row)
            else:
                batch.add(row)
            header = result.header
            routed.append(
                RoutedRequest(
                    header.request_id if header else None,
                    header.device_id if header else None,
                    decision,
                    status,
                )
            )
        batch.flush()
    for item in routed:
        logger.info(
            "Routed CoS request %s for device %s: %s %s%s.",
            item.request_id,
            item.device_id,
            item.decision.route.value,
            item.decision.reason.value if item.decision.reason else "",
            " (a replay, not forwarded again)" if item.replay else "",
            extra={"request_id": item.request_id, "device_id": item.device_id},
        )
    return routed


class _Batch:
    """Decisions waiting to be written, with the pending-date changes they make.

    Rows and pending dates are written together, in one statement each, unless a request
    changes the pending date of a device that an earlier request of the batch changed too (a
    future-dated request and its cancellation): then what waits is written first, so the later
    request reads the earlier one's row and date, as if each had been routed alone.
    """

    def __init__(
        self, connection: Connection, at: datetime, eligibility_policy: EligibilityPolicy
    ) -> None:
        self.connection = connection
        self.at = at
        self.eligibility_policy = eligibility_policy
        self.rows: list[routing_store.CosRequestRow] = []
        self.pending: dict[str, date | None] = {}

    def add(
        self,
        row: routing_store.CosRequestRow,
        device_id: str | None = None,
        until: date | None = None,
    ) -> None:
        """Queue a decision and, with ``device_id``, the pending date it sets (None clears)."""
        if device_id is not None and device_id in self.pending:
            self.flush()
        self.rows.append(row)
        if device_id is not None:
            self.pending[device_id] = until

    def flush(self) -> None:
        """Write the queued decisions, then the pending dates they set or clear."""
        routing_store.record_cos_requests(self.connection, self.rows)
        if self.pending:
            routing_store.set_cos_request_pending(
                self.connection,
                self.pending,
                on=self.at.date(),
                now=self.at,
                policy=self.eligibility_policy,
            )
        self.rows = []
        self.pending = {}


def _replay(earlier: routing_store.ForwardedRequest) -> RoutedRequest:
    route = Route(earlier.decision)
    decision = RoutingDecision(
        route,
        detail=f"request {earlier.request_id} was already routed to {route.value} at "
        f"{earlier.received_at.isoformat()}; this replay is not forwarded again",
    )
    return RoutedRequest(
        earlier.request_id, earlier.device_id, decision, earlier.status, replay=True
    )


def _decide(
    result: CheckResult,
    devices: dict[str, Any],
    policy: RoutingPolicy,
    in_scope_device_types: frozenset[DeviceType],
) -> RoutingDecision:
    if result.rejection is not None:
        return result.rejection.decision()
    assert result.request is not None
    return decide_route(
        result.request, devices.get(result.request.device_id), in_scope_device_types, policy
    )


def _row(
    result: CheckResult, decision: RoutingDecision, status: str, at: datetime
) -> routing_store.CosRequestRow:
    header = result.header
    request = result.request
    return routing_store.CosRequestRow(
        request_id=header.request_id if header else "",
        device_id=header.device_id if header else None,
        originator=header.originator if header else None,
        service_reference=header.service_reference[:16] if header else None,
        decision=decision.route.value,
        reason=decision.reason.value if decision.reason else None,
        received_at=at,
        execution_at=request.execution_at if request else None,
        status=status,
    )
