"""The simulator's own state, in a SQLite file of its own beside the product's store.

The simulated devices and service providers stand for parties outside the product, so their
state must not share the product's transactions: when the product's transaction rolls back
after a crash, what a device did must stay done, exactly as in the field. A separate file
also works the same whether the product's store is SQLite or PostgreSQL. Each provider call
commits its own changes and results in one transaction (``SimulatorState.transaction``), so
``kill -9`` at any moment leaves either the whole call or none of it.

The file is always SQLite, so it is driven with the standard library's ``sqlite3`` module
directly. SQLAlchemy Core built a parameter dictionary for every remembered row and compiled
an expanding IN for every lookup, which cost several times more than the SQLite work itself.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ecos_migration.errors import InputError
from ecos_migration.providers.simulated.pki import Party, TestPki, generate_pki

# The same tables and columns as the SQLAlchemy Core schema that created earlier files, so
# those files open unchanged. ``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it
# is. New files store results without a rowid, so each result is one B-tree entry instead of
# a table row plus a primary-key index entry.
_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS sim_party (
        name VARCHAR(16) NOT NULL PRIMARY KEY,
        certificate BLOB NOT NULL,
        private_key BLOB NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sim_device (
        id VARCHAR(16) NOT NULL PRIMARY KEY,
        anchor BLOB NOT NULL  -- DER SubjectPublicKeyInfo of the CoS certificate trusted
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS sim_result (
        attempt_id VARCHAR(64) NOT NULL,
        step VARCHAR(16) NOT NULL,
        error_code VARCHAR(40),
        PRIMARY KEY (attempt_id, step)
    ) WITHOUT ROWID
    """,
)

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    # Fewer, larger checkpoints: each step rewrites the same result and device pages.
    "PRAGMA wal_autocheckpoint=20000",
    "PRAGMA cache_size=-100000",
)

# The maximum number of ids in one IN lookup, lowered to the SQLite build's own variable
# limit when that is smaller (999 before SQLite 3.32).
BATCH_SIZE = 5000

_INSERT_PARTY = "INSERT INTO sim_party (name, certificate, private_key) VALUES (?, ?, ?)"
_INSERT_DEVICE = "INSERT OR IGNORE INTO sim_device (id, anchor) VALUES (?, ?)"
_UPDATE_ANCHOR = "UPDATE sim_device SET anchor = ? WHERE id = ?"
_INSERT_RESULT = "INSERT INTO sim_result (attempt_id, step, error_code) VALUES (?, ?, ?)"


def default_state_path(database_url: str) -> Path:
    """Return the simulator state file for a store: beside a SQLite file, else in the cwd."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and database_url[len(prefix) :] not in ("", ":memory:"):
        store = Path(database_url[len(prefix) :])
        return store.with_name(store.name + ".sim.sqlite")
    return Path("ecos-migration-sim.sqlite")


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class SimulatorState:
    """Trust anchors, remembered results and the test PKI, in one SQLite file.

    One connection serves every call. A lock serialises the calls, so threads that share
    the object cannot interleave their statements in one transaction.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # isolation_level=None: the module sends no implicit BEGIN or COMMIT, and
        # ``transaction`` sends its own.
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        try:
            for pragma in _PRAGMAS:
                self.connection.execute(pragma)
        except sqlite3.DatabaseError as exc:
            self.connection.close()
            raise InputError(
                f"{path} is not a simulator state file ({exc}): give the file an earlier "
                "run wrote, or a new file name"
            ) from None
        variable_limit = self.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        # One variable of the results lookup is the step.
        self.batch_size = max(1, min(BATCH_SIZE, variable_limit - 1))
        with self.transaction():
            for statement in _SCHEMA:
                self.connection.execute(statement)
            self.pki = self._load_or_create_pki()

    def close(self) -> None:
        """Release the file; a second call does nothing."""
        with self._lock:
            self.connection.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run the block in one write transaction: commit it whole, or roll it back whole.

        ``BEGIN IMMEDIATE`` takes the write lock before the first read, so what the block
        reads cannot change before it writes, even with another process on the same file.
        """
        with self._lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
                self.connection.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after some errors (a full disk, for one).
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise

    def _load_or_create_pki(self) -> TestPki:
        parties = {
            name: Party.load(name, certificate, private_key)
            for name, certificate, private_key in self.connection.execute(
                "SELECT name, certificate, private_key FROM sim_party"
            )
        }
        if parties:
            return TestPki(parties["root"], parties["issuing"], parties["tcos"], parties["ecos"])
        pki = generate_pki()
        self.connection.executemany(
            _INSERT_PARTY,
            [
                (party.name, party.certificate_der(), party.private_key_pem())
                for party in pki.parties()
            ],
        )
        return pki

    def _chunks(self, values: Sequence[str]) -> Iterator[list[str]]:
        for start in range(0, len(values), self.batch_size):
            yield list(values[start : start + self.batch_size])

    def add_devices(self, anchors: Mapping[str, bytes]) -> int:
        """Add devices that are not simulated yet with the given anchors; return how many.

        A device already in the file keeps the anchor it has.
        """
        with self.transaction() as connection:
            before = connection.total_changes
            connection.executemany(_INSERT_DEVICE, anchors.items())
            return connection.total_changes - before

    def anchors(self, device_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the trust anchor of each known device among ``device_ids``.

        Inside ``transaction`` this reads that transaction's view. Outside one, each lookup
        of at most ``batch_size`` ids reads the last committed state.
        """
        found: dict[str, bytes] = {}
        with self._lock:
            for chunk in self._chunks(device_ids):
                found.update(
                    self.connection.execute(
                        "SELECT id, anchor FROM sim_device "
                        f"WHERE id IN ({_placeholders(len(chunk))})",
                        chunk,
                    )
                )
        return found

    def set_anchors(self, anchors: Mapping[str, bytes]) -> None:
        """Replace the trust anchor of each device in ``anchors``, inside ``transaction``."""
        self.connection.executemany(
            _UPDATE_ANCHOR, [(anchor, device_id) for device_id, anchor in anchors.items()]
        )

    def results(self, step: str, attempt_ids: Sequence[str]) -> dict[str, str | None]:
        """Return the remembered result (error code or ``None``) of each attempt at ``step``."""
        found: dict[str, str | None] = {}
        with self._lock:
            for chunk in self._chunks(attempt_ids):
                found.update(
                    self.connection.execute(
                        "SELECT attempt_id, error_code FROM sim_result "
                        f"WHERE step = ? AND attempt_id IN ({_placeholders(len(chunk))})",
                        [step, *chunk],
                    )
                )
        return found

    def remember(self, step: str, results: Iterable[tuple[str, str | None]]) -> None:
        """Remember each attempt's result at ``step``, inside ``transaction``.

        An attempt already remembered at ``step`` raises ``sqlite3.IntegrityError``.
        """
        self.connection.executemany(
            _INSERT_RESULT, [(attempt_id, step, code) for attempt_id, code in results]
        )

    def all_anchors(self) -> dict[str, bytes]:
        """Return every simulated device's anchor (for the truth check and tests)."""
        with self._lock:
            return dict(self.connection.execute("SELECT id, anchor FROM sim_device"))
