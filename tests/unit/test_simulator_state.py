"""The simulator's state file: remembered results, one transaction per call, older files."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest

from ecos_migration.domain.device import Credential
from ecos_migration.providers.interfaces import Instruction
from ecos_migration.providers.simulated.parties import SimulatedParties
from ecos_migration.providers.simulated.scenario import Scenario, parse_scenario
from ecos_migration.providers.simulated.state import SimulatorState

MODEL = "ESME/AB01/010A030B/0002012F"
DEVICES = [f"00DB{n:012X}" for n in range(30)]


def instructions(attempt: int = 1) -> list[Instruction]:
    return [Instruction(f"{device}-{attempt}", device, MODEL) for device in DEVICES]


def open_parties(path: Path, scenario: Scenario) -> SimulatedParties:
    state = SimulatorState(path)
    simulated = SimulatedParties(state, scenario, seed=5)
    state.add_devices(dict.fromkeys(DEVICES, simulated.tcos_anchor))
    return simulated


def result_rows(path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(
            "SELECT attempt_id, step, error_code FROM sim_result ORDER BY attempt_id, step"
        ).fetchall()


@pytest.mark.parametrize(
    ("step", "faults", "code"),
    [
        ("instruct", "instruction_rejected = 1.0", "INSTRUCTION_REJECTED"),
        ("review", "review_refused = 1.0", "REVIEW_REFUSED"),
        ("replace", "error_response = 1.0", "ERROR_RESPONSE"),
        ("reconcile", "reconciliation_mismatch = 1.0", "RECONCILIATION_MISMATCH"),
    ],
)
def test_replay_returns_remembered_results(
    tmp_path: Path, step: str, faults: str, code: str
) -> None:
    path = tmp_path / "sim.sqlite"
    faulty = open_parties(path, parse_scenario(f"[default]\n{faults}", "faults.toml"))
    if step == "reconcile":
        faulty.replace(instructions())  # so that only the drawn fault can fail the call
    first = getattr(faulty, step)(instructions())
    assert {r.error_code for r in first} == {code}
    anchors = faulty.state.all_anchors()
    rows = result_rows(path)
    faulty.state.close()

    # The same state with no fault at all: a replayed attempt gets the remembered result,
    # and a new attempt gets a new one.
    healthy = SimulatedParties(SimulatorState(path), Scenario(), seed=5)
    replay = getattr(healthy, step)(list(reversed(instructions())))
    assert [(r.attempt_id, r.error_code) for r in replay] == [
        (r.attempt_id, r.error_code) for r in reversed(first)
    ]
    assert healthy.state.all_anchors() == anchors
    assert result_rows(path) == rows
    if step != "reconcile":
        fresh = getattr(healthy, step)(instructions(attempt=2))
        assert {r.error_code for r in fresh} == {None}
    healthy.state.close()


def test_replay_mixed_with_new_attempts(tmp_path: Path) -> None:
    simulated = open_parties(tmp_path / "sim.sqlite", Scenario())
    simulated.state.batch_size = 7  # several IN lookups per call
    simulated.replace(instructions()[:10])
    second = [Instruction(f"{device}-2", device, MODEL) for device in DEVICES[:10]]
    # The first ten attempts are replays. The new attempts reach devices that trust ECoS.
    results = simulated.replace(instructions() + second)
    codes = [r.error_code for r in results]
    assert codes == [None] * 30 + ["COMMAND_REJECTED"] * 10
    read = simulated.read(DEVICES)
    assert list(read.values()) == [Credential.ECOS] * 30
    simulated.state.close()


def raise_after(original: object) -> object:
    def wrapper(step: str, results: Iterable[tuple[str, str | None]]) -> None:
        original(step, results)  # type: ignore[operator]
        raise RuntimeError("crash after the results were written")

    return wrapper


@pytest.mark.parametrize("step", ["instruct", "review", "replace", "reconcile"])
def test_exception_inside_call_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    path = tmp_path / "sim.sqlite"
    simulated = open_parties(path, Scenario())
    if step == "reconcile":
        simulated.replace(instructions())
    anchors = simulated.state.all_anchors()
    rows = result_rows(path)
    # The replace call has written the new anchors and its results when this raises.
    monkeypatch.setattr(simulated.state, "remember", raise_after(simulated.state.remember))
    with pytest.raises(RuntimeError, match="crash after"):
        getattr(simulated, step)(instructions())
    monkeypatch.undo()

    assert simulated.state.all_anchors() == anchors
    assert result_rows(path) == rows
    # The state is usable again, and the call now takes effect.
    results = getattr(simulated, step)(instructions())
    assert {r.error_code for r in results} == {None}
    assert len(result_rows(path)) == len(rows) + len(DEVICES)
    simulated.state.close()


KILLED_CHILD = """
import os, signal, sys
from pathlib import Path
from ecos_migration.providers.interfaces import Instruction
from ecos_migration.providers.simulated.parties import SimulatedParties
from ecos_migration.providers.simulated.scenario import Scenario
from ecos_migration.providers.simulated.state import SimulatorState

state = SimulatorState(Path(sys.argv[1]))
simulated = SimulatedParties(state, Scenario(), seed=5)
devices = [f"00DB{n:012X}" for n in range(30)]
state.add_devices(dict.fromkeys(devices, simulated.tcos_anchor))
remember = state.remember

def remember_then_die(step, results):
    remember(step, results)
    os.kill(os.getpid(), signal.SIGKILL)

state.remember = remember_then_die
simulated.replace([Instruction(f"{d}-1", d, "{model}") for d in devices])
"""


def test_kill_inside_call_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sim.sqlite"
    script = textwrap.dedent(KILLED_CHILD).replace("{model}", MODEL)
    child = subprocess.run([sys.executable, "-c", script, str(path)], check=False, timeout=60)
    assert child.returncode == -signal.SIGKILL

    state = SimulatorState(path)
    simulated = SimulatedParties(state, Scenario(), seed=5)
    # The devices were added in a call of their own, which committed before the kill.
    assert state.all_anchors() == dict.fromkeys(DEVICES, simulated.tcos_anchor)
    assert result_rows(path) == []
    assert all(r.ok for r in simulated.replace(instructions()))
    state.close()


def test_add_devices_keeps_known_anchors(tmp_path: Path) -> None:
    state = SimulatorState(tmp_path / "sim.sqlite")
    assert state.add_devices({"00DB000000000001": b"a", "00DB000000000002": b"b"}) == 2
    assert state.add_devices({"00DB000000000002": b"c", "00DB000000000003": b"d"}) == 1
    assert state.all_anchors() == {
        "00DB000000000001": b"a",
        "00DB000000000002": b"b",
        "00DB000000000003": b"d",
    }
    state.close()


def test_lookups_span_batches(tmp_path: Path) -> None:
    simulated = open_parties(tmp_path / "sim.sqlite", Scenario())
    simulated.state.batch_size = 4
    simulated.instruct(instructions())
    ids = [i.attempt_id for i in instructions()]
    assert simulated.state.results("INSTRUCT", [*ids, "missing-1"]) == dict.fromkeys(ids)
    assert simulated.state.results("REVIEW", ids) == {}
    assert len(simulated.state.anchors([*DEVICES, "00DBFFFFFFFFFFFF"])) == len(DEVICES)
    simulated.state.close()


# The tables as SQLAlchemy Core created them in earlier state files: rowid tables with
# a separate primary-key index.
EARLIER_SCHEMA = """
CREATE TABLE sim_party (
    name VARCHAR(16) NOT NULL, certificate BLOB NOT NULL, private_key BLOB NOT NULL,
    PRIMARY KEY (name)
);
CREATE TABLE sim_device (id VARCHAR(16) NOT NULL, anchor BLOB NOT NULL, PRIMARY KEY (id));
CREATE TABLE sim_result (
    attempt_id VARCHAR(64) NOT NULL, step VARCHAR(16) NOT NULL, error_code VARCHAR(40),
    PRIMARY KEY (attempt_id, step)
);
"""


def test_earlier_file_opens(tmp_path: Path) -> None:
    path = tmp_path / "sim.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript(EARLIER_SCHEMA)
        connection.execute("INSERT INTO sim_result VALUES ('00DB000000000000-1', 'REPLACE', NULL)")
    connection.close()

    simulated = open_parties(path, parse_scenario("[default]\nerror_response = 1.0", "s"))
    results = simulated.replace(instructions())
    # The remembered success comes from the earlier file, and the other devices fail.
    assert results[0].error_code is None
    assert {r.error_code for r in results[1:]} == {"ERROR_RESPONSE"}
    tcos = simulated.tcos_anchor
    simulated.state.close()

    reopened = SimulatorState(path)
    assert reopened.pki.tcos.public_key_der() == tcos
    reopened.close()


def test_state_file_uses_wal(tmp_path: Path) -> None:
    state = SimulatorState(tmp_path / "sim.sqlite")
    assert state.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    state.close()
