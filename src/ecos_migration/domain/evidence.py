"""Evidence for the bulk gate: certificate replacements and successful SRV 6.23 requests."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date


class EvidenceKind(enum.StrEnum):
    """What a piece of evidence shows about a device of a Device Model."""

    CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS = "CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS"
    CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS = "CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS"
    SRV_6_23_SUCCESS = "SRV_6_23_SUCCESS"

    @property
    def is_certificate_replacement(self) -> bool:
        """Whether this evidence is a certificate replacement rather than an SRV 6.23."""
        return self is not EvidenceKind.SRV_6_23_SUCCESS


class EvidenceSource(enum.StrEnum):
    """Where a piece of evidence came from."""

    IMPORTED = "IMPORTED"
    RECORDED = "RECORDED"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence about one device on one date."""

    device_id: str
    kind: EvidenceKind
    occurred_on: date
    source: EvidenceSource
    model_id: int | None = None
    reference: str | None = None
