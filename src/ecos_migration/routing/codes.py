"""Routing decisions and the reason codes that explain them."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Route(enum.StrEnum):
    """Where a CoS request goes, or why it goes nowhere yet."""

    TCOS_PARTY = "TCOS_PARTY"
    ECOS_PARTY = "ECOS_PARTY"
    SMETS1_SERVICE_PROVIDER = "SMETS1_SERVICE_PROVIDER"
    HOLD = "HOLD"
    REJECT = "REJECT"

    @property
    def is_forwarded(self) -> bool:
        """Whether the request was passed to a party that processes it."""
        return self not in (Route.HOLD, Route.REJECT)


class RouteReason(enum.StrEnum):
    """Why a request was held or rejected; ``docs/routing.md`` describes each code."""

    MALFORMED_XML = "MALFORMED_XML"
    UNSAFE_XML = "UNSAFE_XML"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    NOT_A_COS_REQUEST = "NOT_A_COS_REQUEST"
    SIGNATURE_MISSING = "SIGNATURE_MISSING"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    SIGNER_UNKNOWN = "SIGNER_UNKNOWN"
    SIGNER_CERTIFICATE_NOT_VALID = "SIGNER_CERTIFICATE_NOT_VALID"
    SIGNER_NOT_ORIGINATOR = "SIGNER_NOT_ORIGINATOR"
    ORIGINATOR_NOT_SUPPLIER = "ORIGINATOR_NOT_SUPPLIER"
    DEVICE_UNKNOWN = "DEVICE_UNKNOWN"
    OUT_OF_SCOPE_DEVICE_TYPE = "OUT_OF_SCOPE_DEVICE_TYPE"
    MIGRATION_IN_PROGRESS = "MIGRATION_IN_PROGRESS"
    CREDENTIAL_UNKNOWN = "CREDENTIAL_UNKNOWN"


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The route of one request, with its reason code and a sentence the sender can act on.

    ``reason`` is ``None`` for a forwarded request; ``retry_after_seconds`` is set for HOLD only.
    """

    route: Route
    reason: RouteReason | None = None
    detail: str = ""
    retry_after_seconds: int | None = None


class RejectedRequestError(Exception):
    """A request failed a check before routing; carries the reason code and the detail."""

    def __init__(self, reason: RouteReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail

    def decision(self) -> RoutingDecision:
        """Return the REJECT decision this failure stands for."""
        return RoutingDecision(Route.REJECT, self.reason, self.detail)
