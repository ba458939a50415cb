"""Problems found while validating an input file, and how they are reported."""

from __future__ import annotations

from dataclasses import dataclass

# How many problems an error message lists before it only counts the rest.
MAX_LISTED_PROBLEMS = 50


@dataclass(frozen=True, slots=True)
class Problem:
    """One invalid thing in an input file.

    ``location`` is ``line N`` for a CSV file or an XML element path with its source line.
    """

    file: str
    location: str
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        return f"{self.file}, {self.location}, {self.reason}"

    @property
    def reason(self) -> str:
        """The problem without its file and location: column, value and what is expected."""
        where = "row" if self.column is None else f"column {self.column}"
        shown = "" if self.value is None else f": value {self.value!r}"
        return f"{where}{shown}: {self.expected}"


SKIP_HINT = (
    "Fix the file and import it again, or use --skip-invalid --rejects FILE "
    "to import the valid rows."
)


def describe_problems(
    file: str,
    problems: list[Problem],
    total: int,
    limit: int = MAX_LISTED_PROBLEMS,
    hint: str = SKIP_HINT,
) -> str:
    """Return a message listing the first ``limit`` problems, counting the rest, and ``hint``."""
    lines = [f"{file}: {total} problem(s) found, nothing was imported from this file:"]
    lines.extend(f"  {problem}" for problem in problems[:limit])
    if total > limit:
        lines.append(f"  ... and {total - limit} more (only the first {limit} are listed)")
    lines.append(hint)
    return "\n".join(lines)
