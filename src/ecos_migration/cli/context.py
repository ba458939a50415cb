"""What every command shares: the database, the configuration and the console."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from ecos_migration.clock import Clock, FixedClock, SystemClock
from ecos_migration.errors import StoreError

# SQLAlchemy, Alembic and the configuration models are imported by the members that use
# them, so a command that needs no database (``--help``, ``--version``) starts faster.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ecos_migration.config import Settings


@dataclass
class AppContext:
    """Options given before the command, resolved lazily so `--help` needs no database."""

    database_url: str | None
    config_path: Path | None
    console: Console = field(default_factory=lambda: Console(highlight=False))
    error_console: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    @cached_property
    def clock(self) -> Clock:
        """The clock commands read: the simulated run's current day, else the real date.

        A store that a simulated run has worked on lives on that run's days, so dates that
        commands record (operator controls, imports, routed requests) and the dates they
        report on follow the run rather than the wall clock.
        """
        from ecos_migration.store.runs import current_day

        try:
            engine = self.engine()
        except StoreError:
            return SystemClock()
        with engine.connect() as connection:
            day = current_day(connection)
        return FixedClock(day) if day is not None else SystemClock()

    @cached_property
    def settings(self) -> Settings:
        """The loaded and validated configuration."""
        from ecos_migration.config import load_settings

        return load_settings(self.config_path)

    def engine(self, *, require_schema: bool = True) -> Engine:
        """Return the database engine; by default check that the schema is current."""
        from ecos_migration.store.database import require_current_schema

        engine = self._engine
        if require_schema:
            require_current_schema(engine)
        return engine

    @cached_property
    def _engine(self) -> Engine:
        from ecos_migration.store.database import create_database_engine

        return create_database_engine(self.database_url)

    def print_json(self, data: Any) -> None:
        """Write ``data`` as indented JSON to standard output, without Rich markup."""
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def app_context(ctx: typer.Context) -> AppContext:
    """Return the ``AppContext`` the main callback stored on the root context."""
    root = ctx.find_root()
    assert isinstance(root.obj, AppContext)
    return root.obj
