"""Writing inventory and evidence files in the formats the importers read."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from ecos_migration.domain.device import Credential, DeviceModelKey
from ecos_migration.domain.evidence import Evidence
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
from ecos_migration.inventory.evidence_import import EVIDENCE_COLUMNS, OPTIONAL_COLUMNS
from ecos_migration.store.devices import DeviceRecord


def _date(value: date | None) -> str:
    return value.isoformat() if value else ""


def _credential(credential: Credential) -> str:
    # The inventory format leaves the credential of out-of-scope devices empty.
    return "" if credential is Credential.NOT_APPLICABLE else credential.value


def write_inventory_csv(path: Path, records: Iterable[DeviceRecord]) -> int:
    """Write ``records`` as an inventory CSV with every column; return the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INVENTORY_COLUMNS)
        for record in records:
            key = record.model_key
            writer.writerow(
                (
                    record.id,
                    record.device_type.value,
                    record.generation.value,
                    record.smi_status.value,
                    key.manufacturer if key else "",
                    key.model if key else "",
                    key.firmware_version if key else "",
                    record.chf_id or "",
                    record.supplier_id or "",
                    record.mpxn or "",
                    _date(record.commissioned_on),
                    _date(record.last_change_of_supplier_on),
                    record.comms_status.value,
                    _credential(record.credential),
                )
            )
            count += 1
    return count


def write_evidence_csv(
    path: Path, items: Iterable[Evidence], device_models: dict[int, DeviceModelKey]
) -> int:
    """Write evidence rows, naming each row's Device Model; return the number of rows."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((*EVIDENCE_COLUMNS, *OPTIONAL_COLUMNS))
        for item in items:
            model = device_models.get(item.model_id) if item.model_id is not None else None
            writer.writerow(
                (
                    item.device_id,
                    item.kind.value,
                    item.occurred_on.isoformat(),
                    item.reference or "",
                    str(model) if model else "",
                )
            )
            count += 1
    return count
