"""Parsing of date options given on the command line."""

from __future__ import annotations

from datetime import date

import typer


def parse_day(value: str | None) -> date | None:
    """Return the ISO date in ``value``, ``None`` when it is not given; raise a usage error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"invalid date {value!r}: expected YYYY-MM-DD") from None
