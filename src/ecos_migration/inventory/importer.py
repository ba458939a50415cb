"""Importing inventory files: validate every row and load the file in one transaction.

Each file is read once, streaming, inside one transaction. Valid rows are loaded in batches
as they come. Unless invalid rows may be skipped, the first invalid row stops the loading.
The rest of the file is still validated, so that every problem is listed, and then the
transaction is rolled back. So a file is imported whole or not at all, and memory does not
grow with the file.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import EligibilityPolicy, Reason
from ecos_migration.errors import InputError, StoreError
from ecos_migration.inventory.csv_reader import read_inventory_csv
from ecos_migration.inventory.duis_reader import NOT_CARRIED, read_dsp_inventory
from ecos_migration.inventory.eligibility_cache import EligibilityCache
from ecos_migration.inventory.formats import InventoryFormat
from ecos_migration.inventory.problems import MAX_LISTED_PROBLEMS, Problem, describe_problems
from ecos_migration.inventory.records import ParsedRow
from ecos_migration.inventory.rejects import RejectsWriter
from ecos_migration.store.devices import DeviceRecord, selection_keys, upsert_devices
from ecos_migration.store.eligibility import refresh_devices
from ecos_migration.store.inventory import (
    find_duplicates,
    has_devices,
    hub_statuses,
    import_lines,
    indexes_deferred,
    insert_added_events,
    insert_device_rows,
    selection_seed,
)
from ecos_migration.store.models import ensure_models

__all__ = [
    "FileImportResult",
    "ImportOptions",
    "ImportProgress",
    "InventoryFormat",
    "NoProgress",
    "import_inventory_file",
]

logger = logging.getLogger(__name__)

BATCH_SIZE = 10_000
# Entries of the cache of dates in the form the driver binds. A fleet repeats a few
# thousand dates, and the bound keeps a file of many distinct dates from growing it.
_MAX_CACHED_DAYS = 100_000

# Inventory fields as named in the CSV, and the device column each one fills.
_COLUMN_OF_FIELD = {"cos_credential": "credential"}


class ImportProgress(Protocol):
    """Receives progress of an import, for a progress bar."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, rows: int) -> None: ...


class NoProgress:
    """Progress sink that shows nothing."""

    def start(self, description: str, total: int | None) -> None:
        """Ignore the start of a phase."""

    def advance(self, rows: int) -> None:
        """Ignore progress."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Options of an inventory import."""

    format: InventoryFormat
    on: date
    now: datetime
    policy: EligibilityPolicy
    skip_invalid: bool = False
    actor: str = "inventory"


@dataclass
class FileImportResult:
    """Counts of what importing one file changed."""

    file: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    events: int = 0
    # Inventory fields the file's format does not carry, as CSV column names.
    not_carried: frozenset[str] = frozenset()
    # Whether the file went into an empty store through the bulk path.
    bulk_path: bool = False


@dataclass
class _Problems:
    count: int = 0
    listed: list[Problem] = field(default_factory=list)

    def add(self, problems: list[Problem]) -> None:
        self.count += len(problems)
        room = MAX_LISTED_PROBLEMS - len(self.listed)
        self.listed.extend(problems[: max(room, 0)])


class _InvalidFileError(Exception):
    """Raised inside the transaction so that it rolls back; carries the problem list."""


def _read(path: Path, options: ImportOptions) -> Iterator[ParsedRow]:
    if options.format is InventoryFormat.DUIS:
        return read_dsp_inventory(path, options.policy, options.on)
    return read_inventory_csv(path, options.policy, options.on)


def _not_carried(options: ImportOptions) -> frozenset[str]:
    return NOT_CARRIED if options.format is InventoryFormat.DUIS else frozenset()


def import_inventory_file(
    engine: Engine,
    path: Path,
    options: ImportOptions,
    *,
    rejects: RejectsWriter | None = None,
    progress: ImportProgress | None = None,
) -> FileImportResult:
    """Validate and import one inventory file; raise ``InputError`` if it is invalid.

    Without ``options.skip_invalid`` any invalid row rolls the whole file back, after every
    row was validated. With it, invalid rows go to ``rejects`` and the valid rows are
    imported.
    """
    sink = progress or NoProgress()
    file = str(path)
    result = FileImportResult(file, not_carried=_not_carried(options))
    problems = _Problems()
    sink.start(f"Importing {path.name}", None)
    logger.info("Importing the inventory file.", extra={"file": file})
    try:
        with engine.begin() as connection:
            _load(
                connection,
                path,
                options=options,
                problems=problems,
                result=result,
                rejects=rejects,
                progress=sink,
            )
    except _InvalidFileError:
        raise InputError(describe_problems(file, problems.listed, problems.count)) from None
    except SQLAlchemyError as exc:
        raise StoreError(f"{file}: the import failed and was rolled back: {exc}") from exc
    logger.info(
        "Imported the inventory file.",
        extra={"file": file, "inserted": result.inserted, "updated": result.updated},
    )
    return result


def _load(
    connection: Connection,
    path: Path,
    *,
    options: ImportOptions,
    problems: _Problems,
    result: FileImportResult,
    rejects: RejectsWriter | None,
    progress: ImportProgress,
) -> None:
    result.bulk_path = not has_devices(connection)
    if result.bulk_path:
        with indexes_deferred(connection):
            _load_rows(connection, path, options, problems, result, rejects, progress)
    else:
        _load_rows(connection, path, options, problems, result, rejects, progress)


def _load_rows(  # noqa: PLR0917 - the state of one file's load
    connection: Connection,
    path: Path,
    options: ImportOptions,
    problems: _Problems,
    result: FileImportResult,
    rejects: RejectsWriter | None,
    progress: ImportProgress,
) -> None:
    loader = _Loader(connection, options, result)
    batch: list[ParsedRow] = []

    def reject(row: ParsedRow) -> None:
        problems.add(row.problems)
        result.rejected += 1
        if options.skip_invalid and rejects is not None:
            rejects.write(str(path), row)

    def flush() -> None:
        valid = _without_duplicates(connection, str(path), batch, reject)
        if not problems.count or options.skip_invalid:
            loader.load(
                [row.record for row in valid if row.record is not None],
                {row.record.id: row.absent for row in valid if row.record and row.absent},
            )
        progress.advance(len(batch))
        batch.clear()

    with import_lines(connection):
        for row in _read(path, options):
            result.rows += 1
            if row.record is None:
                reject(row)
                progress.advance(1)
                continue
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                flush()
        flush()
    if problems.count and not options.skip_invalid:
        raise _InvalidFileError
    loader.finish()


def _without_duplicates(
    connection: Connection,
    file: str,
    batch: list[ParsedRow],
    reject: Callable[[ParsedRow], None],
) -> list[ParsedRow]:
    """Reject the rows of ``batch`` that repeat a device id of an earlier row of the file.

    The first row with an id is kept, so with ``--skip-invalid`` it is imported and the
    later ones are rejected.
    """
    duplicates = find_duplicates(
        connection, [(row.record.id, row.line) for row in batch if row.record is not None]
    )
    if not duplicates:
        return batch
    valid = []
    for position, row in enumerate(batch):
        first = duplicates.get(position)
        if first is None:
            valid.append(row)
            continue
        # A DSPInventory row is located by its XML path, a CSV row by its line.
        column = "DeviceID" if row.location.startswith("/") else "device_id"
        value = row.raw.get(column, row.record.id if row.record else None)
        problem = Problem(
            file,
            row.location,
            column,
            value,
            f"duplicate of the device on line {first}",
        )
        reject(ParsedRow(row.location, row.line, None, [problem], row.values, row.names))
    return valid


class _Loader:
    """Writes batches of valid records: the bulk path into an empty store, else upserts."""

    def __init__(
        self, connection: Connection, options: ImportOptions, result: FileImportResult
    ) -> None:
        self.connection = connection
        self.options = options
        self.result = result
        self.sqlite = connection.dialect.name == "sqlite"
        # GPFs loaded by the bulk path before their CHF, which ``finish`` evaluates again
        # once every row is in. A file listing each hub before its GPF leaves none.
        self.unresolved_gpfs: list[str] = []
        self.seed = selection_seed(connection)
        # Device Model ids by (device type, manufacturer, model, firmware). This tuple is
        # hashed in C, whereas a ``DeviceModelKey`` runs its dataclass ``__hash__`` in Python.
        self.model_ids: dict[tuple[str, str, str, str], int] = {}
        self.eligibility = EligibilityCache(options.on, options.policy)
        self.day_values = _DayValues(as_text=self.sqlite)
        self.selection_key = selection_keys(self.seed)
        self.keep = frozenset(_COLUMN_OF_FIELD.get(name, name) for name in result.not_carried)

    def load(self, batch: list[DeviceRecord], absent: dict[str, frozenset[str]]) -> None:
        """Write one batch of records; ``absent`` maps ids to columns their row lacks."""
        if not batch:
            return
        if self.result.bulk_path:
            self._insert(batch)
            return
        upserted = upsert_devices(
            self.connection,
            batch,
            on=self.options.on,
            now=self.options.now,
            seed=self.seed,
            policy=self.options.policy,
            actor=self.options.actor,
            keep=self.keep,
            keep_for=absent,
        )
        self.result.inserted += upserted.inserted
        self.result.updated += upserted.updated
        self.result.unchanged += upserted.unchanged
        self.result.events += upserted.events

    def finish(self) -> None:
        """Record the added devices' events; evaluate again GPFs listed before their hub.

        On the bulk path the ``DEVICE_ADDED`` events are written once all devices are in,
        by one statement over the device table, which holds exactly this file's devices.
        """
        if self.result.bulk_path and self.result.inserted:
            options = self.options
            self.result.events += insert_added_events(
                self.connection, options.on, options.now, options.actor
            )
        if self.unresolved_gpfs:
            refresh_devices(
                self.connection, self.unresolved_gpfs, self.options.on, self.options.policy
            )

    def _insert(self, batch: list[DeviceRecord]) -> None:
        hubs = self._hub_statuses(batch)
        insert_device_rows(self.connection, self._rows(batch, hubs))
        self.result.inserted += len(batch)

    def _model_id(self, key: DeviceModelKey) -> int:
        """Return the id of a Device Model, adding it on its first device in the file."""
        parts = (key.device_type, key.manufacturer, key.model, key.firmware_version)
        found = self.model_ids.get(parts)
        if found is None:
            found = self.model_ids[parts] = ensure_models(self.connection, {key})[key]
        return found

    def _hub_statuses(self, batch: list[DeviceRecord]) -> dict[str, SmiStatus]:
        """Return the SMI status of the hubs of the batch's GPFs: this batch's or stored."""
        statuses = {r.id: r.smi_status for r in batch if r.device_type is DeviceType.CHF}
        wanted = {
            r.chf_id
            for r in batch
            if r.device_type is DeviceType.GPF and r.chf_id and r.chf_id not in statuses
        }
        for hub_id, status in hub_statuses(self.connection, wanted).items():
            statuses[hub_id] = SmiStatus(status)
        return statuses

    def _rows(self, batch: list[DeviceRecord], hubs: dict[str, SmiStatus]) -> list[tuple[Any, ...]]:
        """Build the device rows of a batch, in ``DEVICE_ROW_COLUMNS`` order.

        One loop with the lookups bound to local names, since it runs once per device.
        """
        text = _PLAIN_TEXT
        not_started = text[MigrationState.NOT_STARTED]
        gpf = DeviceType.GPF
        day = self.day_values
        on_value = day[self.options.on]
        eligibility_cache = self.eligibility
        results = eligibility_cache.results
        facts_key = eligibility_cache.key
        model_ids = self.model_ids
        selection_key = self.selection_key
        rows = []
        for record in batch:
            chf_id = record.chf_id
            hub = None
            # The store was empty, so a GPF's hub can only be a CHF of this file.
            if chf_id is not None and record.device_type is gpf:
                hub = hubs.get(chf_id)
                if hub is None:
                    self.unresolved_gpfs.append(record.id)
            key = facts_key(record, hub)
            eligibility = results.get(key) or eligibility_cache.evaluate(key)
            model_key = record.model_key
            model_id = None
            if model_key is not None:
                model_id = model_ids.get(
                    (
                        model_key.device_type,
                        model_key.manufacturer,
                        model_key.model,
                        model_key.firmware_version,
                    )
                )
                if model_id is None:
                    model_id = self._model_id(model_key)
            rows.append(
                (
                    record.id,
                    text[record.device_type],
                    text[record.generation],
                    text[record.smi_status],
                    model_id,
                    chf_id,
                    record.supplier_id,
                    record.mpxn,
                    day[record.commissioned_on],
                    day[record.last_change_of_supplier_on],
                    text[record.comms_status],
                    text[record.credential],
                    not_started,
                    on_value,
                    text[eligibility.reason],
                    day[eligibility.until],
                    on_value,
                    selection_key(record.id),
                )
            )
        return rows


# The value of every enum member a device row contains, as a plain ``str``. The sqlite3
# module binds an exact ``str`` directly but runs its adaptation protocol for a subclass such
# as a ``StrEnum`` member: 6 members per row cost about 2 microseconds (CPython 3.11, sqlite3
# ``executemany`` of 200,000 device rows). ``None`` maps to itself, for an absent reason.
_PLAIN_TEXT: dict[enum.StrEnum | None, str | None] = {
    None: None,
    **{
        member: member.value
        for kind in (DeviceType, Generation, SmiStatus, CommsStatus, Credential, MigrationState)
        for member in kind
    },
    **{reason: reason.value for reason in Reason},
}


class _DayValues(dict[date | None, Any]):
    """Dates as the driver binds them: ISO text on SQLite, the date itself on PostgreSQL.

    SQLAlchemy keeps a SQLite Date as ISO text, and the bulk path bypasses its types.
    Indexing converts a date on its first use and caches it, since a fleet's dates repeat.
    The cache is emptied when it reaches ``_MAX_CACHED_DAYS`` entries.
    """

    def __init__(self, *, as_text: bool) -> None:
        super().__init__({None: None})
        self.as_text = as_text

    def __missing__(self, day: date) -> Any:
        if len(self) >= _MAX_CACHED_DAYS:
            self.clear()
            self[None] = None
        value = self[day] = day.isoformat() if self.as_text else day
        return value
