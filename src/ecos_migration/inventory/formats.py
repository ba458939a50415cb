"""Formats of inventory files, in a module of its own so the command line can name them cheaply."""

from __future__ import annotations

import enum


class InventoryFormat(enum.StrEnum):
    """Formats of inventory files."""

    CSV = "csv"
    DUIS = "duis"
