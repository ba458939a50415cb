"""The Alembic revisions create exactly the tables the metadata describes."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from ecos_migration.store.database import current_revision, head_revision, upgrade_schema
from ecos_migration.store.schema import metadata


def test_upgraded_schema_matches_metadata(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before, after = upgrade_schema(engine)
    assert before == after == head_revision()
    assert current_revision(engine) == head_revision()
