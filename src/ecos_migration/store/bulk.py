"""Writing many rows through one prepared statement, for the migration engine's hot path.

SQLAlchemy Core builds, type-processes and checks a parameter dictionary for every row of an
executemany. A migration run writes several rows for every device it migrates, and that
per-row work took about a quarter of a run's time. A ``RowStatement`` is rendered once per
dialect from the table's metadata and takes plain tuples. They go to the driver's
``executemany`` unchanged. Only columns whose type the driver cannot take as it is (dates
and times on SQLite) are converted, by SQLAlchemy's own bind processors.

On PostgreSQL an executemany still costs a statement per row on the server, so inserts go
through ``COPY ... FROM STDIN`` and updates through one ``UPDATE ... FROM unnest(...)`` of
one array per column.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.engine import Dialect

_Processor = Callable[[Any], Any]


class RowStatement:
    """An INSERT, or an UPDATE by key, of chosen columns of one table, taking tuples.

    For an insert each tuple contains the ``columns`` in order. For an update it contains
    the ``columns`` to set, then the ``key`` columns that find the row. The keys of one call
    must differ from each other, as they do for rows of one chunk.
    """

    def __init__(self, table: Table, columns: Sequence[str], *, key: Sequence[str] = ()) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.key = tuple(key)
        self._rendered: dict[str, tuple[str, tuple[tuple[int, _Processor], ...]]] = {}

    def _render(self, dialect: Dialect) -> tuple[str, tuple[tuple[int, _Processor], ...]]:
        found = self._rendered.get(dialect.name)
        if found is not None:
            return found
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        table = dialect.identifier_preparer.format_table(self.table)
        if self.key:
            assignments = ", ".join(f"{quote(name)} = {mark}" for name in self.columns)
            condition = " AND ".join(f"{quote(name)} = {mark}" for name in self.key)
            sql = f"UPDATE {table} SET {assignments} WHERE {condition}"
        else:
            names = ", ".join(quote(name) for name in self.columns)
            marks = ", ".join(mark for _ in self.columns)
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
        processors: list[tuple[int, _Processor]] = []
        for position, name in enumerate((*self.columns, *self.key)):
            column: Column[Any] = self.table.c[name]
            processor = column.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((position, processor))
        found = (sql, tuple(processors))
        self._rendered[dialect.name] = found
        return found

    def execute(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Write ``rows`` in the caller's transaction; return how many were sent."""
        if not rows:
            return 0
        if connection.dialect.name == "postgresql":
            self._execute_postgresql(connection, rows)
            return len(rows)
        sql, processors = self._render(connection.dialect)
        if processors:
            converted: list[tuple[Any, ...]] = []
            for row in rows:
                values = list(row)
                for position, processor in processors:
                    value = values[position]
                    if value is not None:
                        values[position] = processor(value)
                converted.append(tuple(values))
            rows = converted
        connection.exec_driver_sql(sql, rows)
        return len(rows)

    def _execute_postgresql(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        table = dialect.identifier_preparer.format_table(self.table)
        # psycopg's own connection, inside the transaction SQLAlchemy has begun on it.
        driver: Any = connection.connection.driver_connection
        with driver.cursor() as cursor:
            if not self.key:
                names = ", ".join(quote(name) for name in self.columns)
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                return
            every = (*self.columns, *self.key)
            arrays = ", ".join(
                f"%s::{self.table.c[name].type.compile(dialect)}[]" for name in every
            )
            assignments = ", ".join(f"{quote(name)} = v.{quote(name)}" for name in self.columns)
            condition = " AND ".join(
                f"{table}.{quote(name)} = v.{quote(name)}" for name in self.key
            )
            names = ", ".join(quote(name) for name in every)
            cursor.execute(
                f"UPDATE {table} SET {assignments} "
                f"FROM unnest({arrays}) AS v({names}) WHERE {condition}",
                [list(column) for column in zip(*rows, strict=True)],
            )
