"""A Rich progress bar that shows rows done and the rate, for long imports."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class RowProgress:
    """Shows one task per phase with rows done, rows per second and elapsed time."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> RowProgress:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def start(self, description: str, total: int | None) -> None:
        """Begin a new phase."""
        self.task = self.progress.add_task(description, total=total, rate="")

    def advance(self, rows: int) -> None:
        """Count ``rows`` more rows of the current phase."""
        if self.task is None:
            return
        self.progress.advance(self.task, rows)
        speed = self.progress.tasks[-1].speed
        self.progress.update(self.task, rate=f"{speed:,.0f} rows/s" if speed else "")
