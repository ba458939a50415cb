"""The published list of Non-Migratable Device Models, as CSV and a plain HTML page.

The list names Device Models only: it holds no device id, supplier id or other device data.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from ecos_migration.reporting import pages
from ecos_migration.reporting.files import atomic_directory
from ecos_migration.store.reporting import (
    NonMigratableModel,
    non_migratable_models,
    supplier_ids,
)

logger = logging.getLogger(__name__)

PUBLIC_CSV = "non-migratable-models.csv"
PUBLIC_HTML = "non-migratable-models.html"
COLUMNS = (
    "manufacturer",
    "model",
    "firmware_version",
    "device_type",
    "determined_on",
    "reason",
    "appeal_status",
)
NO_APPEAL = "NONE"


# An EUI-64 in either spelling, as a whole word.
_DEVICE_ID = re.compile(r"\b[0-9A-Fa-f]{2}(?:-?[0-9A-Fa-f]{2}){7}\b")
DEVICE_PLACEHOLDER = "[device]"
SUPPLIER_PLACEHOLDER = "[supplier]"


def redact_reason(reason: str, suppliers: Iterable[str]) -> str:
    """Replace device ids and the given supplier ids in an operator's reason text.

    The reason is free text typed by an operator for internal triage, so it may name the
    device or supplier that reported the defect; the public list must name neither.
    """
    text = _DEVICE_ID.sub(DEVICE_PLACEHOLDER, reason)
    for supplier in sorted(set(suppliers), key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(supplier)}(?![\w-])", SUPPLIER_PLACEHOLDER, text)
    return text


def _row(model: NonMigratableModel, suppliers: list[str]) -> list[str]:
    return [
        model.manufacturer,
        model.model,
        model.firmware_version,
        model.device_type,
        model.non_migratable_on.isoformat() if model.non_migratable_on else "",
        redact_reason(model.reason or "", suppliers),
        model.appeal_status or NO_APPEAL,
    ]


def write_non_migratable_list(engine: Engine, out_dir: Path, *, on: date) -> int:
    """Write the public list into ``out_dir``, replacing it whole; return the number of models."""
    with engine.connect() as connection:
        models = non_migratable_models(connection)
        suppliers = supplier_ids(connection)
    rows = [_row(model, suppliers) for model in models]
    with atomic_directory(out_dir) as staging:
        with (staging / PUBLIC_CSV).open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        body = (
            f"<p>Device Models that DCC has determined cannot be migrated, as of "
            f"{on.isoformat()}. A Supplier Party may appeal a determination to the Secretary "
            "of State. A firmware upgrade to a migratable version usually resolves it.</p>"
            + pages.table(COLUMNS, rows)
        )
        (staging / PUBLIC_HTML).write_text(
            pages.document("Non-Migratable Device Models", body), encoding="utf-8"
        )
    logger.info(
        "Wrote the list of %d Non-Migratable Device Models.",
        len(rows),
        extra={"report_folder": str(out_dir)},
    )
    return len(rows)
