"""DCC Users registered to send requests: the parties file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ecos_migration.domain.device import canonical_device_id
from ecos_migration.errors import ConfigurationError
from ecos_migration.routing.codes import RejectedRequestError, RouteReason
from ecos_migration.routing.environment import PARTIES_VARIABLE

PARTIES_COLUMNS = ("party_id", "name", "user_roles")

# DUIS User Roles of an importing supplier, the roles allowed to send SRV 6.23:
# IS (Import Supplier) and GS (Gas Supplier).
IMPORTING_SUPPLIER_ROLES = frozenset({"IS", "GS"})


@dataclass(frozen=True, slots=True)
class Party:
    """A registered DCC User: its EUI-64, name and DUIS User Role codes."""

    party_id: str
    name: str
    user_roles: frozenset[str]

    @property
    def is_importing_supplier(self) -> bool:
        """Whether the party may send a CoS Update Security Credentials request."""
        return bool(self.user_roles & IMPORTING_SUPPLIER_ROLES)


class Parties:
    """Registered parties by EUI-64."""

    def __init__(self, parties: list[Party]) -> None:
        self._by_id = {party.party_id: party for party in parties}

    def __len__(self) -> int:
        return len(self._by_id)

    @classmethod
    def from_csv(cls, path: Path) -> Parties:
        """Read a parties CSV with the header ``party_id,name,user_roles``.

        ``user_roles`` holds space-separated DUIS User Role codes, e.g. ``IS GS``. Raises
        ``ConfigurationError`` naming the file and line of a bad row.
        """
        try:
            with path.open(newline="", encoding="utf-8") as stream:
                reader = csv.DictReader(stream)
                if tuple(reader.fieldnames or ()) != PARTIES_COLUMNS:
                    raise ConfigurationError(
                        f"parties file {path}: header is {reader.fieldnames}, "
                        f"expected {','.join(PARTIES_COLUMNS)}"
                    )
                parties = [_party(path, reader.line_num, row) for row in reader]
        except OSError as exc:
            raise ConfigurationError(
                f"parties file {path} cannot be read ({exc.strerror}): give a CSV of "
                f"{','.join(PARTIES_COLUMNS)} with --parties or {PARTIES_VARIABLE}"
            ) from exc
        return cls(parties)

    def require_importing_supplier(self, originator: str) -> Party:
        """Return the originator's party, or raise ORIGINATOR_NOT_SUPPLIER."""
        party = self._by_id.get(originator)
        if party is None:
            raise RejectedRequestError(
                RouteReason.ORIGINATOR_NOT_SUPPLIER,
                f"originator {originator} is not a registered party",
            )
        if not party.is_importing_supplier:
            raise RejectedRequestError(
                RouteReason.ORIGINATOR_NOT_SUPPLIER,
                f"originator {originator} ({party.name}) has User Roles "
                f"{' '.join(sorted(party.user_roles)) or 'none'}, not IS or GS",
            )
        return party


def _party(path: Path, line: int, row: dict[str, str]) -> Party:
    try:
        party_id = canonical_device_id(row["party_id"] or "")
    except ValueError as exc:
        raise ConfigurationError(f"parties file {path}, line {line}: party_id {exc}") from exc
    roles = frozenset((row["user_roles"] or "").split())
    return Party(party_id, (row["name"] or "").strip(), roles)
