"""Bulk loading of inventory rows into a store without devices, and inventory lookups.

An empty store needs no comparison with stored rows, so its first snapshot is written with
the database's own bulk path: one ``executemany`` on SQLite, ``COPY`` on PostgreSQL. Later
snapshots go through ``store.devices.upsert_devices``, which compares and records changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    exists,
    select,
)

from ecos_migration.domain.eligibility import DeviceFacts
from ecos_migration.store.eligibility import facts_from_row, facts_select
from ecos_migration.store.schema import device, device_event, evidence
from ecos_migration.store.settings import get_setting

# Columns of ``device`` in the order of the tuples ``insert_device_rows`` takes.
DEVICE_ROW_COLUMNS = (
    "id",
    "device_type",
    "generation",
    "smi_status",
    "model_id",
    "chf_id",
    "supplier_id",
    "mpxn",
    "commissioned_on",
    "last_change_of_supplier_on",
    "comms_status",
    "credential",
    "migration_state",
    "first_seen_on",
    "reason",
    "reason_until",
    "evaluated_on",
    "selection_key",
)
_EVENT_COLUMNS = ("device_id", "occurred_on", "recorded_at", "kind", "actor")

SELECTION_SEED_SETTING = "selection_seed"


def selection_seed(connection: Connection) -> int:
    """Return the seed of the selection order, stored under ``selection_seed`` (default 0)."""
    value = get_setting(connection, SELECTION_SEED_SETTING)
    return int(value) if value is not None else 0


def has_devices(connection: Connection) -> bool:
    """Return whether the store contains at least one device."""
    return bool(connection.execute(select(exists().select_from(device))).scalar())


def _begin_sqlite_transaction(connection: Connection) -> None:
    """Open the SQLite transaction now, so the DDL that follows is part of it.

    Python's sqlite3 module (before the ``autocommit`` attribute of Python 3.12) begins a
    transaction only before an INSERT, UPDATE or DELETE, so DDL issued first would commit
    at once and survive a rollback of the import.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    if not driver.in_transaction:
        driver.execute("BEGIN")


@contextmanager
def indexes_deferred(connection: Connection) -> Iterator[None]:
    """Drop the secondary indexes of ``device`` and ``device_event``; create them again after.

    Building an index once over loaded rows is faster than updating it row by row, which
    matters for the first snapshot of a whole fleet. Both databases run DDL inside the
    transaction, so a failed load leaves the indexes as they were. The primary keys stay,
    so duplicate ids are still rejected during the load.
    """
    _begin_sqlite_transaction(connection)
    indexes = [*device.indexes, *device_event.indexes]
    for index in indexes:
        index.drop(bind=connection)
    yield
    for index in indexes:
        index.create(bind=connection)
    if connection.dialect.name == "postgresql":
        # Give the planner statistics of the loaded rows before the first selection runs.
        connection.exec_driver_sql("ANALYZE device, device_event")


def insert_device_rows(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert new device rows (tuples in ``DEVICE_ROW_COLUMNS`` order) in one batch.

    The caller guarantees the ids are not stored yet; this path does no comparison. On
    SQLite, dates must already be ISO text, the form SQLAlchemy's ``Date`` stores there.
    """
    if not rows:
        return
    names = ", ".join(DEVICE_ROW_COLUMNS)
    if connection.dialect.name == "postgresql":
        _copy(connection, f"COPY device ({names}) FROM STDIN", rows)
        return
    marks = ", ".join("?" for _ in DEVICE_ROW_COLUMNS)
    connection.exec_driver_sql(f"INSERT INTO device ({names}) VALUES ({marks})", rows)


def insert_added_events(connection: Connection, on: date, now: datetime, actor: str) -> int:
    """Record a ``DEVICE_ADDED`` event for every stored device, in one statement.

    Only for the first snapshot into a store that had no device, so every stored device
    was added by it. The events are the same rows a per-batch insert would write, one per
    device, but built by the database from the device table rather than sent row by row.
    On SQLite they follow the order the devices were inserted in. Returns how many.
    """
    columns = ", ".join(_EVENT_COLUMNS)
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(
            f"INSERT INTO device_event ({columns}) "
            "SELECT id, %s, %s, 'DEVICE_ADDED', %s FROM device",
            (on, now, actor),
        )
        return int(result.rowcount)
    # SQLAlchemy's SQLite DateTime text form; time zone offsets are not stored on SQLite.
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    result = connection.exec_driver_sql(
        f"INSERT INTO device_event ({columns}) "
        "SELECT id, ?, ?, 'DEVICE_ADDED', ? FROM device ORDER BY rowid",
        (on.isoformat(), stamp, actor),
    )
    return int(result.rowcount)


def _copy(connection: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    # COPY runs on the psycopg connection under SQLAlchemy's open transaction, so it
    # commits or rolls back with the rest of the import.
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def model_ids_of_devices(
    connection: Connection, device_ids: Iterable[str]
) -> dict[str, int | None]:
    """Return the current Device Model id of each stored device among ``device_ids``."""
    ids = list(dict.fromkeys(device_ids))
    found: dict[str, int | None] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = connection.execute(
            select(device.c.id, device.c.model_id).where(device.c.id.in_(chunk))
        )
        found.update({row.id: row.model_id for row in rows})
    return found


def imported_evidence_keys(
    connection: Connection, device_ids: Iterable[str]
) -> set[tuple[str, str, date, str | None]]:
    """Return (device, kind, date, reference) of the imported evidence of ``device_ids``."""
    ids = list(dict.fromkeys(device_ids))
    keys: set[tuple[str, str, date, str | None]] = set()
    for start in range(0, len(ids), 5000):
        rows = connection.execute(
            select(
                evidence.c.device_id, evidence.c.kind, evidence.c.occurred_on, evidence.c.reference
            )
            .where(evidence.c.device_id.in_(ids[start : start + 5000]))
            .where(evidence.c.source == "IMPORTED")
        )
        keys.update((row[0], row[1], row[2], row[3]) for row in rows)
    return keys


def get_device_facts(connection: Connection, device_id: str) -> DeviceFacts | None:
    """Return the eligibility facts of one device, its hub's status included, or ``None``."""
    row = connection.execute(facts_select().where(device.c.id == device_id)).first()
    return facts_from_row(row._mapping) if row is not None else None


# Device ids of the file being imported, with the line of their first row: the memory of
# the duplicate check lives in the database, so it does not grow with the file.
_import_metadata = MetaData()
import_line = Table(
    "import_line",
    _import_metadata,
    Column("id", String(16), primary_key=True),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    # One B-tree keyed by id instead of a rowid table plus an index on id, so each
    # registered id is written once.
    sqlite_with_rowid=False,
)


@contextmanager
def import_lines(connection: Connection) -> Iterator[None]:
    """Create the temporary table of the ids of one imported file, and drop it after.

    The table belongs to the import transaction, so a failed import leaves none behind.
    """
    _begin_sqlite_transaction(connection)
    import_line.create(bind=connection)
    yield
    import_line.drop(bind=connection)


def find_duplicates(connection: Connection, items: Sequence[tuple[str, int]]) -> dict[int, int]:
    """Register (device id, line) pairs of one batch; return the duplicates among them.

    The result maps the position in ``items`` of each repeated id to the line of its first
    occurrence in the file, earlier batches included. Must run inside ``import_lines``.
    The statements go to the driver directly: compiling a 10,000-value IN list through
    SQLAlchemy for every batch cost more than the lookup itself.
    """
    if connection.dialect.name == "sqlite":
        return _sqlite_duplicates(connection, items)
    ids = [device_id for device_id, _line in items]
    earlier = _earlier_lines(connection, ids)
    first_lines: dict[str, int] = {}
    duplicates: dict[int, int] = {}
    new_rows: list[tuple[str, int]] = []
    for position, (device_id, line) in enumerate(items):
        first = earlier.get(device_id, first_lines.get(device_id))
        if first is not None:
            duplicates[position] = first
            continue
        first_lines[device_id] = line
        new_rows.append((device_id, line))
    if not new_rows:
        return duplicates
    if connection.dialect.name == "postgresql":
        _copy(connection, "COPY import_line (id, line) FROM STDIN", new_rows)
    else:
        connection.exec_driver_sql("INSERT INTO import_line (id, line) VALUES (?, ?)", new_rows)
    return duplicates


def _sqlite_duplicates(connection: Connection, items: Sequence[tuple[str, int]]) -> dict[int, int]:
    """Register the pairs with ``INSERT OR IGNORE``; look lines up only if some id repeats.

    The insert keeps the first row of each id, in file order, so when it added fewer rows
    than it was given, a row whose line differs from its id's stored line is a duplicate
    of that line. In the usual case of no duplicate this skips the lookup of every id.
    """
    if not items:
        return {}
    added = connection.exec_driver_sql(
        "INSERT OR IGNORE INTO import_line (id, line) VALUES (?, ?)", list(items)
    ).rowcount
    if added == len(items):
        return {}
    first_lines = _earlier_lines(connection, [device_id for device_id, _line in items])
    return {
        position: first_lines[device_id]
        for position, (device_id, line) in enumerate(items)
        if first_lines[device_id] != line
    }


def _earlier_lines(connection: Connection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    if connection.dialect.name == "postgresql":
        result = connection.exec_driver_sql(
            "SELECT id, line FROM import_line WHERE id = ANY(%s)", (ids,)
        )
        return {row[0]: row[1] for row in result}
    found: dict[str, int] = {}
    # SQLite allows 32,766 bound values per statement since 3.32; stay well below.
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        marks = ", ".join("?" for _ in chunk)
        result = connection.exec_driver_sql(
            f"SELECT id, line FROM import_line WHERE id IN ({marks})", tuple(chunk)
        )
        found.update({row[0]: row[1] for row in result})
    return found


def hub_statuses(connection: Connection, hub_ids: Iterable[str]) -> dict[str, str]:
    """Return the stored SMI status of each of ``hub_ids`` that is in the inventory."""
    ids = list(dict.fromkeys(hub_ids))
    found: dict[str, str] = {}
    for start in range(0, len(ids), 5000):
        rows = connection.execute(
            select(device.c.id, device.c.smi_status).where(
                device.c.id.in_(ids[start : start + 5000])
            )
        )
        found.update({row.id: row.smi_status for row in rows})
    return found
