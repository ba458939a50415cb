"""The store: owns every table and every query, on SQLite and PostgreSQL.

Other packages call the functions of this package and never write SQL themselves.
"""

from ecos_migration.store.database import (
    create_database_engine,
    require_current_schema,
    resolve_database_url,
    upgrade_schema,
)

__all__ = [
    "create_database_engine",
    "require_current_schema",
    "resolve_database_url",
    "upgrade_schema",
]
