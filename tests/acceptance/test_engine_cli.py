"""The engine commands as a process: run, resume after SIGKILL, status, incidents and demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from ecos_migration.clock import FixedClock
from ecos_migration.config import load_settings
from ecos_migration.domain.device import (
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    SmiStatus,
)
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.providers.simulated.fleet import truth_check
from ecos_migration.providers.simulated.parties import SimulatedParties
from ecos_migration.providers.simulated.scenario import Scenario
from ecos_migration.providers.simulated.state import SimulatorState, default_state_path
from ecos_migration.store.database import create_database_engine, upgrade_schema
from ecos_migration.store.devices import DeviceRecord, upsert_devices
from ecos_migration.store.evidence import add_evidence
from ecos_migration.store.models import get_model
from ecos_migration.store.schema import attempt, run_day

START = date(2023, 6, 30)
GOOD = DeviceModelKey(DeviceType.ESME, "AB01", "010A030B", "0002012F")
DEFECT = DeviceModelKey(DeviceType.GSME, "C2E4", "0200", "00000010")
SCENARIO = f"""
[default]
comms_failure = 0.01
lost_answer = 0.02
reconciliation_mismatch = 0.01

[[model]]
model = "{DEFECT}"
command_rejected = 0.95
"""


def cli(database: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecos_migration", "--db", database, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def prepare(tmp_path: Path, good: int, defect: int) -> str:
    database = f"sqlite:///{tmp_path / 'store.db'}"
    engine = create_database_engine(database)
    upgrade_schema(engine)
    settings = load_settings()
    rows = [
        DeviceRecord(
            id=f"00DB{index:04X}{n:08X}",
            device_type=key.device_type,
            generation=Generation.SMETS2,
            smi_status=SmiStatus.COMMISSIONED,
            model_key=key,
            supplier_id="SUP01",
            commissioned_on=date(2020, 1, 1),
            credential=Credential.TCOS,
        )
        for index, (key, count) in enumerate(((GOOD, good), (DEFECT, defect)))
        for n in range(count)
    ]
    with engine.begin() as connection:
        upsert_devices(
            connection,
            rows,
            on=START,
            now=FixedClock(START).now(),
            seed=2,
            policy=settings.eligibility.policy(),
        )
        for key in (GOOD, DEFECT) if defect else (GOOD,):
            model_id = get_model(connection, key).id
            add_evidence(
                connection,
                [
                    Evidence(
                        "00DB000000000000",
                        kind,
                        START,
                        EvidenceSource.IMPORTED,
                        model_id=model_id,
                    )
                    for kind in (
                        EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS,
                        EvidenceKind.SRV_6_23_SUCCESS,
                    )
                ],
            )
    engine.dispose()
    (tmp_path / "scenario.toml").write_text(SCENARIO)
    return database


def assert_truth(database: str) -> None:
    engine = create_database_engine(database)
    state = SimulatorState(default_state_path(database))
    parties = SimulatedParties(state, Scenario(), seed=0)
    assert truth_check(engine, parties, load_settings().eligibility.policy()) == []
    with engine.connect() as connection:
        twice = connection.execute(
            select(attempt.c.device_id)
            .where(attempt.c.status == "SUCCEEDED")
            .group_by(attempt.c.device_id)
            .having(func.count() > 1)
        ).all()
    assert twice == []
    state.close()
    engine.dispose()


def test_run_status_incidents(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=200, defect=50)
    scenario = str(tmp_path / "scenario.toml")
    result = cli(database, "run", "--days", "12", "--scenario", scenario, "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "2023-06-30: started" in result.stdout
    assert "Completed 12 day(s) up to 2023-07-11 with seed 3." in result.stdout

    status = cli(database, "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert set(data) == {
        "date",
        "devices",
        "in_scope",
        "migrated",
        "in_progress",
        "awaiting_remediation",
        "eligible",
        "ineligible",
        "models",
    }
    assert data["date"] == "2023-07-11"
    assert data["devices"] == 250
    assert data["migrated"] > 0
    assert data["models"]["SUSPENDED"] == 1
    assert data["ineligible"]["ALREADY_ECOS"] == data["migrated"]

    listed = cli(database, "incidents", "--json")
    assert listed.returncode == 0, listed.stderr
    incidents = json.loads(listed.stdout)
    assert len(incidents) == 1
    assert incidents[0]["model"] == str(DEFECT)
    assert incidents[0]["status"] == "OPEN"
    assert incidents[0]["category"] == 3

    resolved = cli(database, "incidents", "resolve", "1", "--note", "firmware fix planned")
    assert resolved.returncode == 0, resolved.stderr
    again = cli(database, "incidents", "resolve", "1", "--note", "twice")
    assert again.returncode == 1
    assert "already resolved" in again.stderr
    missing = cli(database, "incidents", "resolve", "99", "--note", "none")
    assert missing.returncode == 1
    assert "incident 99 not found" in missing.stderr
    table = cli(database, "incidents")
    assert "RESOLVED" in table.stdout
    assert_truth(database)


def test_run_rejects_bad_options(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=10, defect=0)
    both = cli(database, "run", "--days", "2", "--until", "2023-07-05")
    assert both.returncode == 1
    assert "exactly one of --until DATE and --days N" in both.stderr
    assert "Traceback" not in both.stderr
    bad_date = cli(database, "run", "--until", "July")
    assert bad_date.returncode == 1
    assert "invalid --until 'July'" in bad_date.stderr
    first = cli(database, "run", "--days", "1", "--seed", "4")
    assert first.returncode == 0, first.stderr
    other_seed = cli(database, "run", "--days", "2", "--seed", "5")
    assert other_seed.returncode == 1
    assert "seed 4" in other_seed.stderr


def test_run_resumes_after_sigkill(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=3000, defect=100)
    command = [
        sys.executable,
        "-m",
        "ecos_migration",
        "--db",
        database,
        "run",
        "--days",
        "25",
        "--daily-capacity",
        "400",
        "--scenario",
        str(tmp_path / "scenario.toml"),
        "--seed",
        "8",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = create_database_engine(database)
    deadline = time.monotonic() + 120
    completed = 0
    while time.monotonic() < deadline and process.poll() is None:
        with engine.connect() as connection:
            completed = connection.execute(select(func.count()).select_from(run_day)).scalar_one()
        if completed >= 3:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(run_day)).scalar_one()
    assert before < 25

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    with engine.connect() as connection:
        days = connection.execute(select(func.count()).select_from(run_day)).scalar_one()
        unfinished = connection.execute(
            select(func.count()).where(attempt.c.status.in_(["IN_FLIGHT"]))
        ).scalar_one()
    engine.dispose()
    assert days == 25
    assert unfinished == 0
    assert_truth(database)


def test_demo_small_fleet(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    database = f"sqlite:///{out / 'ecos-migration.db'}"
    first = cli(database, "demo", "--out", str(out), "--devices", "400", "--every", "100")
    assert first.returncode == 0, first.stderr
    assert "Truth check against the simulated fleet: every recorded credential matches." in (
        first.stdout
    )
    assert "ECoS Migration Incidents" in first.stdout
    assert (out / "scenario.toml").is_file()
    # The demo starts fresh when run again.
    second = cli(database, "demo", "--out", str(out), "--devices", "400", "--every", "100")
    assert second.returncode == 0, second.stderr


def test_run_rejects_unknown_scenario_model(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=10, defect=0)
    scenario = tmp_path / "typo.toml"
    scenario.write_text('[[model]]\nmodel = "ESME/NOPE/X/1"\nreview_refused = 0.5\n')
    result = cli(database, "run", "--days", "2", "--scenario", str(scenario))
    assert result.returncode == 1
    assert "ESME/NOPE/X/1" in result.stderr
    assert "not in the inventory" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_repeated_days_explained(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=10, defect=0)
    first = cli(database, "run", "--days", "3")
    assert first.returncode == 0, first.stderr
    again = cli(database, "run", "--days", "2")
    assert again.returncode == 0, again.stderr
    assert "Nothing to run" in again.stdout
    assert "count from the run's first day" in again.stdout


def flat(text: str) -> str:
    """Return ``text`` with the line breaks Rich adds to wrap messages taken out."""
    return " ".join(text.split())


def test_run_rejects_bad_inputs(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=10, defect=0)

    huge = cli(database, "run", "--days", "2", "--daily-capacity", str(2**63))
    assert huge.returncode == 2
    assert "--daily-capacity" in huge.stderr

    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    not_text = cli(database, "run", "--days", "2", "--scenario", str(binary))
    assert not_text.returncode == 1
    assert "is not UTF-8 text" in flat(not_text.stderr)

    flag = tmp_path / "flag.toml"
    flag.write_text("[default]\nlost_answer = true\n")
    boolean = cli(database, "run", "--days", "2", "--scenario", str(flag))
    assert boolean.returncode == 1
    assert "lost_answer" in boolean.stderr

    not_sqlite = tmp_path / "text.sqlite"
    not_sqlite.write_text("hello\n")
    state = cli(database, "run", "--days", "2", "--sim-state", str(not_sqlite))
    assert state.returncode == 1
    assert "is not a simulator state file" in flat(state.stderr)

    for result in (huge, not_text, boolean, state):
        assert "Traceback" not in result.stderr


def test_run_rejects_days_outside_run(tmp_path: Path) -> None:
    database = prepare(tmp_path, good=10, defect=0)
    assert cli(database, "run", "--days", "1").returncode == 0

    moved = cli(database, "run", "--start", "2023-07-10", "--days", "1")
    assert moved.returncode == 1
    assert "started on 2023-06-30" in flat(moved.stderr)

    late = cli(database, "run", "--until", "2030-01-01")
    assert late.returncode == 1
    assert "after the migration period ends on" in flat(late.stderr)

    before_live = cli(database, "run", "--start", "2020-01-01", "--days", "1")
    assert before_live.returncode == 1
    assert "before the ECoS Service Live Date" in flat(before_live.stderr)

    many = cli(database, "run", "--days", "100000000")
    assert many.returncode == 2
    assert "Traceback" not in many.stderr
