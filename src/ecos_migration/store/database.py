"""Opening the database and bringing its schema to the newest revision."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecos_migration.errors import StoreError

# SQLAlchemy and Alembic are imported by the functions that use them, so that the command
# line can read ``DATABASE_URL_VARIABLE`` without loading them (``--help``, ``--version``).
if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.pool import ConnectionPoolEntry

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///ecos-migration.db"
DATABASE_URL_VARIABLE = "ECOS_MIGRATION_DB"
_MIGRATIONS = Path(__file__).with_name("migrations")


def resolve_database_url(url: str | None) -> str:
    """Return the URL to use: the argument, else ``ECOS_MIGRATION_DB``, else the SQLite default.

    ``postgresql://`` URLs are given the psycopg 3 driver.
    """
    chosen = url or os.environ.get(DATABASE_URL_VARIABLE) or DEFAULT_DATABASE_URL
    for prefix in ("postgresql://", "postgres://"):
        if chosen.startswith(prefix):
            return "postgresql+psycopg://" + chosen[len(prefix) :]
    return chosen


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (status, reports) run beside the engine; NORMAL sync keeps WAL durable
    # across a process crash, which is the failure a resumable run must survive.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-200000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    # A migration run rewrites the same device and index pages in every step of a chunk;
    # checkpointing every 80 MB rather than every 4 MB copies each page back once, not
    # once per step, and a crash still loses nothing that was committed.
    cursor.execute("PRAGMA wal_autocheckpoint=20000")
    cursor.close()


def create_database_engine(url: str | None = None) -> Engine:
    """Create an engine for ``url`` (see ``resolve_database_url``) without touching the schema."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import ArgumentError

    resolved = resolve_database_url(url)
    try:
        engine = create_engine(resolved, future=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(
            f"invalid database URL {resolved!r}: {exc}. "
            "Use a SQLAlchemy URL such as sqlite:///ecos-migration.db or "
            "postgresql://user@127.0.0.1:5432/dbname"
        ) from exc
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _configure_sqlite)
    return engine


# Page cache of a long migration run on SQLite, in MiB. Its chunks update devices, attempts
# and events at random places. At 1,000,000 devices the pages they touch outgrow the default
# cache, so every page missing from it is read again from the file.
RUN_CACHE_MIB = 1024


def use_sqlite_cache(engine: Engine, mib: int) -> None:
    """Give every connection the engine opens from now on a SQLite page cache of ``mib`` MiB.

    Does nothing for other databases.
    """
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    def configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{mib * 1024}")
        cursor.close()

    event.listen(engine, "connect", configure)
    # Connections already in the pool were opened with the default cache.
    engine.dispose()


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    """Return the newest schema revision this release knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision of the database, or ``None`` if it has no schema yet."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.exc import OperationalError

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise StoreError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc


def upgrade_schema(engine: Engine) -> tuple[str | None, str]:
    """Create the schema or upgrade it to the newest revision; return (before, after)."""
    from alembic import command

    before = current_revision(engine)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    after = head_revision()
    if before != after:
        logger.info(
            "Upgraded the database schema.", extra={"from_revision": before, "to_revision": after}
        )
    return before, after


def require_current_schema(engine: Engine) -> None:
    """Raise ``StoreError`` unless the database schema is at the newest revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise StoreError(
            f"the database {engine.url!r} has no ecos-migration schema: "
            "run `ecos-migration init` first"
        )
    raise StoreError(
        f"the database schema is at revision {current}, this release needs {head}: "
        "run `ecos-migration init` to upgrade it"
    )
