"""Key-value settings kept in the database, such as the run's seed and current day."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from ecos_migration.store.schema import setting


def get_setting(connection: Connection, key: str) -> str | None:
    """Return the value stored under ``key``, or ``None``."""
    return connection.execute(select(setting.c.value).where(setting.c.key == key)).scalar()


def set_setting(connection: Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key``, replacing any earlier value."""
    updated = connection.execute(update(setting).where(setting.c.key == key).values(value=value))
    if updated.rowcount == 0:
        connection.execute(insert(setting).values(key=key, value=value))


def delete_setting(connection: Connection, key: str) -> None:
    """Remove ``key``."""
    connection.execute(delete(setting).where(setting.c.key == key))
