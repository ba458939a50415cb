"""The rejects file: every row an import skipped, with its original fields and the reason."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO

from ecos_migration.errors import InputError
from ecos_migration.inventory.records import ParsedRow


class RejectsWriter:
    """Writes rejected rows as CSV: ``file``, ``line``, the original fields, then ``reason``."""

    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        self.path = path
        self.columns = columns
        self.count = 0
        try:
            self._handle: IO[str] = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the rejects file {path}: {exc.strerror}") from exc
        self._writer = csv.DictWriter(
            self._handle, ["file", "line", *columns, "reason"], extrasaction="ignore"
        )
        self._writer.writeheader()

    def write(self, file: str, row: ParsedRow) -> None:
        """Write one rejected row with every problem it has."""
        reason = "; ".join(problem.reason for problem in row.problems)
        self._writer.writerow({**row.raw, "file": file, "line": row.line, "reason": reason})
        self.count += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._handle.close()
