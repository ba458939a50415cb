"""Fixtures shared by every test: the public test data and a store on SQLite and PostgreSQL.

Store tests take the ``database_url`` or ``engine`` fixture and so run once on SQLite and
once on PostgreSQL (127.0.0.1:5432, trust authentication). Each PostgreSQL test gets a
database of its own. Without a server the PostgreSQL runs are skipped, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from ecos_migration.store.database import create_database_engine, upgrade_schema

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = REPOSITORY.parent / "shared"
SMARTDCC = SHARED / "testdata" / "smartdcc"

POSTGRES_ADMIN_URL = os.environ.get(
    "ECOS_MIGRATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def smartdcc() -> Path:
    """Folder of DCC's public test data."""
    if not SMARTDCC.is_dir():
        pytest.fail(f"the public DCC test data is missing: expected it in {SMARTDCC}")
    return SMARTDCC


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip()


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """URL of the PostgreSQL server's admin database; skips (fails in CI) without a server."""
    problem = _postgres_available()
    if problem is not None:
        message = f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {problem}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin: str) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    name = f"ecos_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(postgres_admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database, once SQLite and once PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ecos-migration.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database whose schema is at the newest revision."""
    engine = create_database_engine(database_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()
