"""The simulator's own state, in a SQLite file of its own beside the product's store.

The simulated devices and service providers stand for parties outside the product, so their
state must not share the product's transactions: when the product's transaction rolls back
after a crash, what a device did must stay done, exactly as in the field. A separate file
also works the same whether the product's store is SQLite or PostgreSQL. Each provider call
commits its own changes and results in one transaction, so ``kill -9`` at any moment leaves
either the whole call or none of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from ecos_migration.providers.simulated.pki import Party, TestPki, generate_pki

sim_metadata = MetaData()

sim_party = Table(
    "sim_party",
    sim_metadata,
    Column("name", String(16), primary_key=True),
    Column("certificate", LargeBinary, nullable=False),
    Column("private_key", LargeBinary, nullable=False),
)

sim_device = Table(
    "sim_device",
    sim_metadata,
    Column("id", String(16), primary_key=True),
    # DER SubjectPublicKeyInfo of the CoS certificate the device trusts.
    Column("anchor", LargeBinary, nullable=False),
)

sim_result = Table(
    "sim_result",
    sim_metadata,
    Column("attempt_id", String(64), primary_key=True),
    Column("step", String(16), primary_key=True),
    Column("error_code", String(40)),
)

BATCH_SIZE = 5000


def _configure(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Fewer, larger checkpoints: each step rewrites the same result and device pages.
    cursor.execute("PRAGMA wal_autocheckpoint=20000")
    cursor.execute("PRAGMA cache_size=-100000")
    cursor.close()


def default_state_path(database_url: str) -> Path:
    """Return the simulator state file for a store: beside a SQLite file, else in the cwd."""
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and database_url[len(prefix) :] not in ("", ":memory:"):
        store = Path(database_url[len(prefix) :])
        return store.with_name(store.name + ".sim.sqlite")
    return Path("ecos-migration-sim.sqlite")


class SimulatorState:
    """Trust anchors, remembered results and the test PKI, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _configure)
        sim_metadata.create_all(self.engine)
        self.pki = self._load_or_create_pki()

    def close(self) -> None:
        """Release the file."""
        self.engine.dispose()

    def _load_or_create_pki(self) -> TestPki:
        with self.engine.begin() as connection:
            rows = {
                row.name: Party.load(row.name, row.certificate, row.private_key)
                for row in connection.execute(select(sim_party))
            }
            if rows:
                return TestPki(rows["root"], rows["issuing"], rows["tcos"], rows["ecos"])
            pki = generate_pki()
            connection.execute(
                insert(sim_party),
                [
                    {
                        "name": party.name,
                        "certificate": party.certificate_der(),
                        "private_key": party.private_key_pem(),
                    }
                    for party in pki.parties()
                ],
            )
            return pki

    def add_devices(self, anchors: Mapping[str, bytes]) -> int:
        """Add devices that are not simulated yet with the given anchors; return how many."""
        ids = list(anchors)
        added = 0
        with self.engine.begin() as connection:
            for start in range(0, len(ids), BATCH_SIZE):
                chunk = ids[start : start + BATCH_SIZE]
                known = set(
                    connection.execute(
                        select(sim_device.c.id).where(sim_device.c.id.in_(chunk))
                    ).scalars()
                )
                rows = [{"id": i, "anchor": anchors[i]} for i in chunk if i not in known]
                if rows:
                    connection.execute(insert(sim_device), rows)
                added += len(rows)
        return added

    def anchors(self, connection: Connection, device_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the trust anchor of each known device among ``device_ids``."""
        found: dict[str, bytes] = {}
        for start in range(0, len(device_ids), BATCH_SIZE):
            chunk = list(device_ids[start : start + BATCH_SIZE])
            for row in connection.execute(
                select(sim_device.c.id, sim_device.c.anchor).where(sim_device.c.id.in_(chunk))
            ):
                found[row.id] = row.anchor
        return found

    def set_anchors(self, connection: Connection, anchors: Mapping[str, bytes]) -> None:
        """Replace the trust anchor of each device in ``anchors``."""
        if anchors:
            connection.execute(
                update(sim_device)
                .where(sim_device.c.id == bindparam("b_id"))
                .values(anchor=bindparam("b_anchor")),
                [{"b_id": key, "b_anchor": value} for key, value in anchors.items()],
            )

    def results(
        self, connection: Connection, step: str, attempt_ids: Sequence[str]
    ) -> dict[str, str | None]:
        """Return the remembered result (error code or ``None``) of each attempt at ``step``."""
        found: dict[str, str | None] = {}
        for start in range(0, len(attempt_ids), BATCH_SIZE):
            chunk = list(attempt_ids[start : start + BATCH_SIZE])
            for row in connection.execute(
                select(sim_result.c.attempt_id, sim_result.c.error_code).where(
                    sim_result.c.step == step, sim_result.c.attempt_id.in_(chunk)
                )
            ):
                found[row.attempt_id] = row.error_code
        return found

    def remember(
        self, connection: Connection, step: str, results: Iterable[tuple[str, str | None]]
    ) -> None:
        """Remember each attempt's result at ``step``."""
        rows = [{"attempt_id": a, "step": step, "error_code": code} for a, code in results]
        if rows:
            connection.execute(insert(sim_result), rows)

    def all_anchors(self) -> dict[str, bytes]:
        """Return every simulated device's anchor (for the truth check and tests)."""
        with self.engine.connect() as connection:
            return {row.id: row.anchor for row in connection.execute(select(sim_device))}
