"""Evidence rows: imported and recorded certificate replacements and SRV 6.23 successes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, select

from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.store.bulk import RowStatement
from ecos_migration.store.schema import evidence


def _from_row(row: Row[Any]) -> Evidence:
    return Evidence(
        device_id=row.device_id,
        kind=EvidenceKind(row.kind),
        occurred_on=row.occurred_on,
        source=EvidenceSource(row.source),
        model_id=row.model_id,
        reference=row.reference,
    )


_INSERT_EVIDENCE = RowStatement(
    evidence, ("device_id", "model_id", "kind", "occurred_on", "source", "reference")
)


def add_evidence(connection: Connection, items: Iterable[Evidence]) -> int:
    """Insert evidence rows in one batch; return how many were written."""
    return _INSERT_EVIDENCE.execute(
        connection,
        [
            (
                item.device_id,
                item.model_id,
                item.kind.value,
                item.occurred_on,
                item.source.value,
                item.reference,
            )
            for item in items
        ],
    )


def evidence_for_models(connection: Connection, model_ids: Iterable[int]) -> Sequence[Evidence]:
    """Return every piece of evidence recorded against the given Device Models, oldest first."""
    ids = list(model_ids)
    if not ids:
        return []
    rows = connection.execute(
        select(evidence)
        .where(evidence.c.model_id.in_(ids))
        .order_by(evidence.c.occurred_on, evidence.c.id)
    )
    return [_from_row(row) for row in rows]


def evidence_for_device(connection: Connection, device_id: str) -> Sequence[Evidence]:
    """Return a device's evidence, oldest first."""
    rows = connection.execute(
        select(evidence)
        .where(evidence.c.device_id == device_id)
        .order_by(evidence.c.occurred_on, evidence.c.id)
    )
    return [_from_row(row) for row in rows]
