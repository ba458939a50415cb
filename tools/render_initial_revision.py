"""Write the initial Alembic revision from the metadata in ``store/schema.py``.

Run this only while no release has shipped; after a release, every schema change gets a new
revision of its own (``alembic revision --autogenerate``) so older databases can be upgraded.
"""

from pathlib import Path

from alembic.autogenerate import produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from ecos_migration.store.schema import metadata

TARGET = (
    Path(__file__).parents[1]
    / "src/ecos_migration/store/migrations/versions/0001_initial_schema.py"
)

HEADER = '''"""Create the initial schema.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
'''


def main() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        operations = produce_migrations(context, metadata)
    upgrade = render_python_code(operations.upgrade_ops, render_as_batch=False)
    downgrade = render_python_code(operations.downgrade_ops, render_as_batch=False)
    body = "\n".join(line for line in upgrade.splitlines() if not line.strip().startswith("# ###"))
    down = "\n".join(
        line for line in downgrade.splitlines() if not line.strip().startswith("# ###")
    )
    TARGET.write_text(HEADER + body + "\n\n\ndef downgrade() -> None:\n" + down + "\n")


if __name__ == "__main__":
    main()
