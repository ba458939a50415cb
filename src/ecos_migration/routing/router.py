"""Checking and routing DUIS requests: the steps the command line and the HTTP service share.

``RequestChecker`` runs the checks that need no database (size, safe parsing, schema,
service reference, signature, signer, originator). ``route_documents`` checks a batch,
reads the target devices in one query, applies the pure routing rule and records every
decision, and every pending or cancelled future-dated request, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ecos_migration.domain.device import DeviceType
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.routing.codes import RejectedRequestError, RoutingDecision
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

    ``on_checked`` is called after each request's checks, e.g. to advance a progress bar.
    """
    results: list[CheckResult] = []
    for data in documents:
        results.append(checker.check(data, at))
        if on_checked is not None:
            on_checked()
    targets = [r.request.device_id for r in results if r.request is not None]
    with engine.begin() as connection:
        devices = routing_store.routing_devices(connection, targets) if targets else {}
        routed: list[RoutedRequest] = []
        rows: list[routing_store.CosRequestRow] = []
        pending: dict[str, date | None] = {}
        for result in results:
            decision = _decide(result, devices, checker.policy, in_scope_device_types)
            status = _status(result, decision, at)
            request = result.request
            if request is not None and decision.route.is_forwarded:
                if request.is_cancellation:
                    pending[request.device_id] = None
                elif status == routing_store.PENDING and request.execution_at is not None:
                    pending[request.device_id] = pending_until(request.execution_at)
            header = result.header
            routed.append(
                RoutedRequest(
                    header.request_id if header else None,
                    header.device_id if header else None,
                    decision,
                    status,
                )
            )
            rows.append(_row(result, decision, status, at))
        routing_store.record_cos_requests(connection, rows)
        if pending:
            routing_store.set_cos_request_pending(
                connection, pending, on=at.date(), now=at, policy=eligibility_policy
            )
    for item in routed:
        logger.info(
            "Routed CoS request %s for device %s: %s %s.",
            item.request_id,
            item.device_id,
            item.decision.route.value,
            item.decision.reason.value if item.decision.reason else "",
            extra={"request_id": item.request_id, "device_id": item.device_id},
        )
    return routed


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
