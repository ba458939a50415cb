"""The migration engine against the simulated fleet, on SQLite and PostgreSQL.

Each test loads a small inventory through ``upsert_devices``, runs simulated days and checks
what the store recorded, ending with the truth check: every recorded credential equals the
certificate the simulated device really trusts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from ecos_migration.clock import FixedClock
from ecos_migration.config import Settings, load_settings
from ecos_migration.domain.device import (
    CommsStatus,
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    SmiStatus,
)
from ecos_migration.domain.error_strategy import load_error_strategy
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.domain.models import ModelState, resumed_state, suspended_state
from ecos_migration.engine.run import days_between
from ecos_migration.engine.session import Simulation, open_simulation, resolve_run, run_days
from ecos_migration.errors import StateError
from ecos_migration.providers.simulated.fleet import truth_check
from ecos_migration.providers.simulated.parties import SimulatedCrashError
from ecos_migration.store.attempts import model_progress
from ecos_migration.store.devices import DeviceRecord, get_device, upsert_devices
from ecos_migration.store.events import device_events, model_events
from ecos_migration.store.evidence import add_evidence, evidence_for_models
from ecos_migration.store.incidents import list_incidents
from ecos_migration.store.models import change_model_state, get_model
from ecos_migration.store.schema import attempt, device, run_day

START = date(2023, 6, 30)
MODEL_A = DeviceModelKey(DeviceType.ESME, "AB01", "010A030B", "0002012F")
MODEL_B = DeviceModelKey(DeviceType.GSME, "C2E4", "0200", "00000010")
MODEL_B_FIX = DeviceModelKey(DeviceType.GSME, "C2E4", "0200", "00000011")
ALL_FAULTS = """
[default]
instruction_rejected = 0.03
review_cos_in_flight = 0.03
review_refused = 0.03
comms_failure = 0.03
command_rejected = 0.02
error_response = 0.03
lost_answer = 0.08
reconciliation_mismatch = 0.04
"""


def device_id(model_index: int, number: int) -> str:
    return f"00DB{model_index:04X}{number:08X}"


def records(key: DeviceModelKey, count: int, model_index: int) -> list[DeviceRecord]:
    return [
        DeviceRecord(
            id=device_id(model_index, n),
            device_type=key.device_type,
            generation=Generation.SMETS2,
            smi_status=SmiStatus.COMMISSIONED,
            model_key=key,
            supplier_id="SUP01",
            commissioned_on=date(2020, 1, 1),
            comms_status=CommsStatus.OK,
            credential=Credential.TCOS,
        )
        for n in range(count)
    ]


def load(
    engine: Engine,
    fleet: dict[DeviceModelKey, int],
    *,
    settings: Settings,
    evidence_for: tuple[DeviceModelKey, ...] = (),
) -> None:
    """Load devices and give the models in ``evidence_for`` a replacement and an SRV 6.23."""
    with engine.begin() as connection:
        rows: list[DeviceRecord] = []
        for index, (key, count) in enumerate(fleet.items()):
            rows.extend(records(key, count, index))
        upsert_devices(
            connection,
            rows,
            on=START,
            now=FixedClock(START).now(),
            seed=11,
            policy=settings.eligibility.policy(),
        )
        for key in evidence_for:
            model = get_model(connection, key)
            add_evidence(
                connection,
                [
                    Evidence(
                        "00DB000000000000",
                        EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS,
                        date(2022, 3, 1),
                        EvidenceSource.IMPORTED,
                        model_id=model.id,
                    ),
                    Evidence(
                        "00DB000000000000",
                        EvidenceKind.SRV_6_23_SUCCESS,
                        date(2023, 6, 30),
                        EvidenceSource.IMPORTED,
                        model_id=model.id,
                    ),
                ],
            )


def simulate(
    engine: Engine,
    tmp_path: Path,
    *,
    settings: Settings,
    scenario: str = "",
    seed: int = 5,
    capacity: int = 400,
    chunk_size: int = 50,
    before_chunk: Callable[[date, int], None] | None = None,
) -> Simulation:
    parameters = resolve_run(
        engine, seed=seed, start=START, scenario_text=scenario, default_start=START
    )
    return open_simulation(
        engine,
        settings,
        load_error_strategy(),
        parameters,
        tmp_path / "sim.sqlite",
        daily_capacity=capacity,
        chunk_size=chunk_size,
        before_chunk=before_chunk,
    )


def small_proving(**overrides: object) -> Settings:
    """Settings with a short proving plan, so small fleets reach bulk migration."""
    base = load_settings()
    proving = base.proving.model_copy(update={"steps": [1, 4, 10]})
    return base.model_copy(update={"proving": proving, **overrides})


def assert_truth(engine: Engine, simulation: Simulation, settings: Settings) -> None:
    mismatches = truth_check(engine, simulation.parties, settings.eligibility.policy())
    assert mismatches == []


def attempts_by(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        return {
            row.id: (row.status, row.error_code)
            for row in connection.execute(
                select(attempt.c.id, attempt.c.status, attempt.c.error_code)
            )
        }


def model_state(engine: Engine, key: DeviceModelKey) -> ModelState:
    with engine.connect() as connection:
        return get_model(connection, key).state


def start_in_bulk(engine: Engine, key: DeviceModelKey) -> None:
    """Put the model straight into BULK, as if its proving had passed."""
    with engine.begin() as connection:
        change_model_state(
            connection,
            get_model(connection, key),
            ModelState.BULK,
            on=START,
            now=FixedClock(START).now(),
            kind="TEST",
            actor="test",
            reason="bulk from the start",
        )


def upgrade_to_fixed_firmware(
    engine: Engine,
    settings: Settings,
    day: date,
    evidence_device: str,
    kinds: tuple[EvidenceKind, ...],
) -> None:
    """Move the 20 devices of MODEL_B to MODEL_B_FIX on ``day``, with evidence for the fix."""
    fixed = [r._replace(model_key=MODEL_B_FIX) for r in records(MODEL_B, 20, 0)]
    with engine.begin() as connection:
        upsert_devices(
            connection,
            fixed,
            on=day,
            now=FixedClock(day).now(),
            seed=11,
            policy=settings.eligibility.policy(),
        )
        add_evidence(
            connection,
            [
                Evidence(
                    evidence_device,
                    kind,
                    day,
                    EvidenceSource.IMPORTED,
                    model_id=get_model(connection, MODEL_B_FIX).id,
                )
                for kind in kinds
            ],
        )


def test_engine_every_fault_truth(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 300, MODEL_B: 200}, settings=settings, evidence_for=(MODEL_A, MODEL_B))
    # Keep automatic suspension out of the way: this test is about the faults themselves.
    suspension = settings.suspension.model_copy(update={"failure_rate": 1.0})
    settings = settings.model_copy(update={"suspension": suspension})
    simulation = simulate(engine, tmp_path, settings=settings, scenario=ALL_FAULTS)
    run_days(simulation, days_between(START, START + timedelta(days=40)))
    assert_truth(engine, simulation, settings)
    codes = Counter(code for _, code in attempts_by(engine).values() if code)
    for code in load_error_strategy().kinds:
        assert codes[code] > 0, f"no attempt failed with {code}"
    with engine.connect() as connection:
        kinds = set(connection.execute(select(func.distinct(device.c.migration_state))).scalars())
        assert "MIGRATED" in kinds
        assert "AWAITING_REMEDIATION" in kinds
        migrated = connection.execute(
            select(func.count()).where(device.c.migration_state == "MIGRATED")
        ).scalar_one()
        ecos = connection.execute(
            select(func.count()).where(
                device.c.migration_state == "MIGRATED", device.c.credential == "ECOS"
            )
        ).scalar_one()
        assert migrated == ecos
        succeeded_twice = connection.execute(
            select(attempt.c.device_id)
            .where(attempt.c.status == "SUCCEEDED")
            .group_by(attempt.c.device_id)
            .having(func.count() > 1)
        ).all()
        assert succeeded_twice == []
    simulation.close()


def test_engine_events_of_lost_answer(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 60}, settings=settings, evidence_for=(MODEL_A,))
    scenario = "[default]\nlost_answer = 1.0\n"
    suspension = settings.suspension.model_copy(update={"failure_rate": 1.0})
    settings = settings.model_copy(update={"suspension": suspension})
    simulation = simulate(engine, tmp_path, settings=settings, scenario=scenario)
    run_days(simulation, days_between(START, START + timedelta(days=15)))
    assert_truth(engine, simulation, settings)
    seen_ecos = seen_tcos = False
    with engine.connect() as connection:
        for n in range(60):
            events = device_events(connection, device_id(0, n))
            reads = [e for e in events if e["kind"] == "CREDENTIAL_READ"]
            if not reads:
                continue
            lost = [e for e in events if e["error_code"] == "NO_RESPONSE"]
            assert lost, "a credential read follows only a lost answer"
            assert lost[0]["new_value"] == "UNKNOWN"
            if reads[0]["new_value"] == "ECOS":
                seen_ecos = True
                assert any(e["kind"] == "MIGRATED" for e in events)
            if reads[0]["new_value"] == "TCOS":
                seen_tcos = True
                assert any(e["kind"] == "STEP_FAILED" for e in events)
    assert seen_ecos
    assert seen_tcos
    simulation.close()


def test_engine_failed_migration(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 30}, settings=settings, evidence_for=(MODEL_A,))
    with engine.begin() as connection:
        model = get_model(connection, MODEL_A)
        change_model_state(
            connection,
            model,
            ModelState.BULK,
            on=START,
            now=FixedClock(START).now(),
            kind="TEST",
            actor="test",
            reason="bulk from the start",
        )
    suspension = settings.suspension.model_copy(update={"failure_rate": 1.0})
    settings = settings.model_copy(update={"suspension": suspension})
    simulation = simulate(
        engine, tmp_path, settings=settings, scenario="[default]\ncommand_rejected = 1.0\n"
    )
    run_days(simulation, days_between(START, START + timedelta(days=5)))
    with engine.connect() as connection:
        row = get_device(connection, device_id(0, 0))
        assert row is not None
        assert row["migration_state"] == "AWAITING_REMEDIATION"
        assert row["reason"] == "AWAITING_REMEDIATION"
        events = device_events(connection, device_id(0, 0))
    failed = [e for e in events if e["kind"] == "FAILED_MIGRATION"]
    assert len(failed) == 1
    assert failed[0]["error_code"] == "COMMAND_REJECTED"
    assert failed[0]["attempt_id"] == f"{device_id(0, 0)}-2"
    assert "Upgrade the device firmware" in failed[0]["reason"]
    assert [e["kind"] for e in events].count("MIGRATION_STARTED") == 2
    assert_truth(engine, simulation, settings)
    simulation.close()


def test_engine_proving_to_bulk(engine: Engine, tmp_path: Path) -> None:
    settings = load_settings()
    load(engine, {MODEL_A: 420}, settings=settings, evidence_for=(MODEL_A,))
    simulation = simulate(engine, tmp_path, settings=settings, capacity=1000)
    seen_states: list[str] = []
    for day in days_between(START, START + timedelta(days=12)):
        simulation.engine.run_day(day)
        with engine.connect() as connection:
            model = get_model(connection, MODEL_A)
            proving = connection.execute(
                select(func.count(func.distinct(attempt.c.device_id))).where(
                    attempt.c.proving_step.is_not(None)
                )
            ).scalar_one()
        assert proving <= 300
        seen_states.append(model.state.value)
    assert seen_states[0] == "PROVING"
    assert seen_states[-1] == "BULK"
    with engine.connect() as connection:
        model = get_model(connection, MODEL_A)
        events = model_events(connection, model.id)
        steps = connection.execute(
            select(attempt.c.proving_step, func.count())
            .where(attempt.c.proving_step.is_not(None))
            .group_by(attempt.c.proving_step)
            .order_by(attempt.c.proving_step)
        ).all()
    assert [count for _, count in steps] == settings.proving.steps
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "PROVING_STARTED"
    assert kinds.count("PROVING_STEP_STARTED") == len(settings.proving.steps)
    assert "PROVING_DONE" in kinds
    assert_truth(engine, simulation, settings)
    simulation.close()


def test_engine_proving_cap_enforced(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    load(engine, {MODEL_A: 400}, settings=settings, evidence_for=(MODEL_A,))
    simulation = simulate(engine, tmp_path, settings=settings, capacity=1000)
    # Even a wrong quota must not start a 301st proving device.
    monkeypatch.setattr(simulation.engine.life, "quota", lambda _c, _m: 301)
    with pytest.raises(StateError, match="at most 300"):
        simulation.engine.run_day(START)
    with engine.connect() as connection:
        started = connection.execute(select(func.count()).select_from(attempt)).scalar_one()
    # The chunks up to the cap started; the one that would pass it started nothing.
    assert started == 300
    simulation.close()


def test_engine_proving_step_failure(engine: Engine, tmp_path: Path) -> None:
    settings = load_settings()
    load(engine, {MODEL_A: 50}, settings=settings, evidence_for=(MODEL_A,))
    simulation = simulate(
        engine, tmp_path, settings=settings, scenario="[default]\ncommand_rejected = 1.0\n"
    )
    run_days(simulation, days_between(START, START + timedelta(days=4)))
    with engine.connect() as connection:
        model = get_model(connection, MODEL_A)
        incidents = list_incidents(connection)
        started = connection.execute(select(func.count()).select_from(attempt)).scalar_one()
    assert model.state is ModelState.SUSPENDED
    assert model.suspended_from_state is ModelState.PROVING
    assert model.state_reason is not None
    assert "proving step 1" in model.state_reason
    assert len(incidents) == 1
    assert incidents[0].category == settings.suspension.proving_incident_category
    assert incidents[0].model == str(MODEL_A)
    hours = settings.incidents.target_resolution_hours[incidents[0].category]
    opened = FixedClock(incidents[0].opened_on).now()
    assert incidents[0].target_resolution_at == opened + timedelta(hours=hours)
    # One device, attempted twice, and nothing more once suspended.
    assert started == 2
    assert_truth(engine, simulation, settings)
    simulation.close()


def test_engine_awaiting_evidence(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 40}, settings=settings)
    simulation = simulate(engine, tmp_path, settings=settings)
    run_days(simulation, days_between(START, START + timedelta(days=5)))
    with engine.connect() as connection:
        model = get_model(connection, MODEL_A)
        recorded = evidence_for_models(connection, [model.id])
    assert model.state is ModelState.AWAITING_EVIDENCE
    assert model.state_reason is not None
    assert "SRV 6.23" in model.state_reason
    assert recorded
    assert {e.source for e in recorded} == {EvidenceSource.RECORDED}
    assert {e.kind for e in recorded} == {EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_ECOS}
    # SRV 6.23 evidence from a model it can be upgraded to opens the gate.
    with engine.begin() as connection:
        upsert_devices(
            connection,
            records(MODEL_B_FIX, 1, 9),
            on=START,
            now=FixedClock(START).now(),
            seed=11,
            policy=settings.eligibility.policy(),
        )
    fix = DeviceModelKey(DeviceType.ESME, MODEL_A.manufacturer, MODEL_A.model, "0002FFFF")
    with engine.begin() as connection:
        upsert_devices(
            connection,
            records(fix, 1, 8),
            on=START,
            now=FixedClock(START).now(),
            seed=11,
            policy=settings.eligibility.policy(),
        )
        add_evidence(
            connection,
            [
                Evidence(
                    device_id(8, 0),
                    EvidenceKind.SRV_6_23_SUCCESS,
                    START + timedelta(days=6),
                    EvidenceSource.IMPORTED,
                    model_id=get_model(connection, fix).id,
                )
            ],
        )
    run_days(simulation, [START + timedelta(days=6)])
    assert model_state(engine, MODEL_A) is ModelState.BULK
    simulation.close()


def test_engine_automatic_suspension(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 400}, settings=settings, evidence_for=(MODEL_A,))
    start_in_bulk(engine, MODEL_A)
    simulation = simulate(
        engine, tmp_path, settings=settings, scenario="[default]\nerror_response = 0.3\n"
    )
    run_days(simulation, [START])
    with engine.connect() as connection:
        model = get_model(connection, MODEL_A)
        incidents = list_incidents(connection)
        kinds = [e["kind"] for e in model_events(connection, model.id)]
    assert model.state is ModelState.SUSPENDED
    assert model.suspended_from_state is ModelState.BULK
    assert "AUTOMATIC_SUSPENSION" in kinds
    assert incidents[0].category == settings.suspension.incident_category
    # Suspended: the retries due later start nothing.
    run_days(simulation, days_between(START + timedelta(days=1), START + timedelta(days=4)))
    with engine.connect() as connection:
        later = connection.execute(
            select(func.count()).where(attempt.c.started_on > START)
        ).scalar_one()
    assert later == 0
    assert_truth(engine, simulation, settings)
    simulation.close()


def test_engine_crash_before_day_end(engine: Engine, tmp_path: Path) -> None:
    """A crash after the day's chunks committed, before the models were judged, still
    suspends the model on that day when the day is run again."""
    settings = small_proving()
    load(engine, {MODEL_A: 400}, settings=settings, evidence_for=(MODEL_A,))
    start_in_bulk(engine, MODEL_A)
    scenario = "[default]\nerror_response = 0.3\n"
    crashing = simulate(engine, tmp_path, settings=settings, scenario=scenario)

    def crash(*_arguments: object) -> None:
        raise SimulatedCrashError("crash before the models are judged")

    crashing.engine.life.evaluate = crash  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrashError):
        run_days(crashing, [START])
    crashing.close()
    assert model_state(engine, MODEL_A) is ModelState.BULK
    resumed = simulate(engine, tmp_path, settings=settings, scenario=scenario)
    run_days(resumed, [START])
    assert model_state(engine, MODEL_A) is ModelState.SUSPENDED
    assert_truth(engine, resumed, settings)
    resumed.close()


def test_engine_all_stop_and_resume(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 600}, settings=settings, evidence_for=(MODEL_A,))
    start_in_bulk(engine, MODEL_A)

    def operator(day: date, index: int) -> None:
        # The operator suspends the model while the day's second chunk is about to start.
        if day == START and index == 2:
            with engine.begin() as connection:
                model = get_model(connection, MODEL_A)
                change = suspended_state(model.state)
                assert change is not None
                change_model_state(
                    connection,
                    model,
                    change[0],
                    on=day,
                    now=FixedClock(day).now(),
                    kind="SUSPENDED",
                    actor="operator",
                    reason="all stop",
                    suspended_from=change[1],
                )

    simulation = simulate(
        engine, tmp_path, settings=settings, capacity=400, chunk_size=50, before_chunk=operator
    )
    run_days(simulation, [START, START + timedelta(days=1)])
    with engine.connect() as connection:
        started = connection.execute(select(func.count()).select_from(attempt)).scalar_one()
        unfinished = connection.execute(
            select(func.count()).where(attempt.c.status.in_(["IN_FLIGHT", "UNKNOWN"]))
        ).scalar_one()
        model = get_model(connection, MODEL_A)
    # Two chunks were sent before the stop; they completed and were recorded.
    assert started == 100
    assert unfinished == 0
    assert model.state is ModelState.SUSPENDED
    with engine.begin() as connection:
        back = resumed_state(model.state, model.suspended_from_state)
        assert back is ModelState.BULK
        change_model_state(
            connection,
            model,
            back,
            on=START + timedelta(days=2),
            now=FixedClock(START).now(),
            kind="RESUMED",
            actor="operator",
            reason="resume",
        )
    run_days(simulation, [START + timedelta(days=2)])
    with engine.connect() as connection:
        started = connection.execute(select(func.count()).select_from(attempt)).scalar_one()
    assert started == 500
    assert_truth(engine, simulation, settings)
    simulation.close()


def run_with_crash(engine: Engine, tmp_path: Path, settings: Settings, crash_step: str) -> None:
    simulation = simulate(engine, tmp_path, settings=settings, scenario=ALL_FAULTS, seed=9)
    simulation.parties.fail_before[crash_step] = 3
    days = days_between(START, START + timedelta(days=20))
    with pytest.raises(SimulatedCrashError):
        run_days(simulation, days)
    simulation.close()
    # A new process: new objects over the same store and simulator state.
    resumed = simulate(engine, tmp_path, settings=settings, scenario=ALL_FAULTS, seed=9)
    with engine.connect() as connection:
        done = set(connection.execute(select(run_day.c.day)).scalars())
    run_days(resumed, [day for day in days if day not in done])
    assert_truth(engine, resumed, settings)
    resumed.close()


@pytest.mark.parametrize("crash_step", ["INSTRUCT", "REPLACE", "READ", "RECONCILE"])
def test_engine_crash_and_resume(database_url: str, tmp_path: Path, crash_step: str) -> None:
    from ecos_migration.store.database import create_database_engine, upgrade_schema

    settings = small_proving()
    suspension = settings.suspension.model_copy(update={"failure_rate": 1.0})
    settings = settings.model_copy(update={"suspension": suspension})

    crashed_engine = create_database_engine(database_url)
    upgrade_schema(crashed_engine)
    load(
        crashed_engine,
        {MODEL_A: 250, MODEL_B: 150},
        settings=settings,
        evidence_for=(MODEL_A, MODEL_B),
    )
    run_with_crash(crashed_engine, tmp_path / "crashed", settings, crash_step)
    crashed = attempts_by(crashed_engine)
    crashed_engine.dispose()

    # The same seed without a crash gives exactly the same attempts and outcomes.
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}" if database_url.startswith("sqlite") else None
    if clean_url is None:
        return
    clean_engine = create_database_engine(clean_url)
    upgrade_schema(clean_engine)
    load(
        clean_engine,
        {MODEL_A: 250, MODEL_B: 150},
        settings=settings,
        evidence_for=(MODEL_A, MODEL_B),
    )
    clean = simulate(
        clean_engine, tmp_path / "clean", settings=settings, scenario=ALL_FAULTS, seed=9
    )
    run_days(clean, days_between(START, START + timedelta(days=20)))
    clean.close()
    assert attempts_by(clean_engine) == crashed
    clean_engine.dispose()


def test_engine_remediated_by_upgrade(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_B: 20}, settings=settings, evidence_for=(MODEL_B,))
    scenario = f'[[model]]\nmodel = "{MODEL_B}"\ncommand_rejected = 1.0\n'
    simulation = simulate(engine, tmp_path, settings=settings, scenario=scenario)
    run_days(simulation, days_between(START, START + timedelta(days=3)))
    assert model_state(engine, MODEL_B) is ModelState.SUSPENDED
    with engine.connect() as connection:
        first = connection.execute(
            select(device.c.id).where(device.c.migration_state == "AWAITING_REMEDIATION")
        ).scalar_one()
    # The supplier upgrades the firmware: the device is of the fixed model from now on.
    day = START + timedelta(days=4)
    upgrade_to_fixed_firmware(engine, settings, day, first, (EvidenceKind.SRV_6_23_SUCCESS,))
    run_days(simulation, days_between(day, day + timedelta(days=8)))
    with engine.connect() as connection:
        row = get_device(connection, first)
        events = [e["kind"] for e in device_events(connection, first)]
    assert row is not None
    assert row["migration_state"] == "MIGRATED"
    assert "REMEDIATED" in events
    assert model_state(engine, MODEL_B_FIX) is ModelState.BULK
    assert_truth(engine, simulation, settings)
    simulation.close()


def test_engine_retry_reopened_by_upgrade(engine: Engine, tmp_path: Path) -> None:
    """A device waiting for a retry whose firmware changes to a model not started yet is
    made selectable again, and is migrated once that model reaches bulk."""
    settings = small_proving()
    load(engine, {MODEL_B: 20}, settings=settings, evidence_for=(MODEL_B,))
    # Every attempt of the old model fails with an error that is retried after a wait.
    scenario = f'[[model]]\nmodel = "{MODEL_B}"\nerror_response = 1.0\n'
    simulation = simulate(engine, tmp_path, settings=settings, scenario=scenario)
    run_days(simulation, [START])
    with engine.connect() as connection:
        waiting = connection.execute(
            select(attempt.c.device_id).where(
                attempt.c.status == "FAILED", attempt.c.retry_on.is_not(None)
            )
        ).scalar_one()
    simulation.close()

    day = START + timedelta(days=1)
    upgrade_to_fixed_firmware(
        engine,
        settings,
        day,
        waiting,
        (EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS, EvidenceKind.SRV_6_23_SUCCESS),
    )
    resumed = simulate(engine, tmp_path, settings=settings, scenario=scenario)
    run_days(resumed, days_between(day, day + timedelta(days=8)))

    with engine.connect() as connection:
        row = get_device(connection, waiting)
        events = device_events(connection, waiting)
    assert row is not None
    assert row["migration_state"] == "MIGRATED"
    remediated = [e for e in events if e["kind"] == "REMEDIATED"]
    assert [e["old_value"] for e in remediated] == ["IN_PROGRESS"]
    assert model_state(engine, MODEL_B_FIX) is ModelState.BULK
    assert_truth(engine, resumed, settings)
    resumed.close()


def test_engine_resume_keeps_seed(engine: Engine) -> None:
    from ecos_migration.errors import InputError

    resolve_run(engine, seed=3, start=START, scenario_text="", default_start=START)
    with pytest.raises(InputError, match="seed 3"):
        resolve_run(engine, seed=4, start=None, scenario_text=None, default_start=START)
    with pytest.raises(InputError, match="another scenario"):
        resolve_run(engine, seed=None, start=None, scenario_text="x", default_start=START)
    again = resolve_run(engine, seed=None, start=None, scenario_text=None, default_start=START)
    assert again.seed == 3
    assert again.start == START


def test_engine_non_migratable_starts_nothing(engine: Engine, tmp_path: Path) -> None:
    settings = small_proving()
    load(engine, {MODEL_A: 30, MODEL_B: 30}, settings=settings, evidence_for=(MODEL_A, MODEL_B))
    with engine.begin() as connection:
        change_model_state(
            connection,
            get_model(connection, MODEL_B),
            ModelState.NON_MIGRATABLE,
            on=START,
            now=FixedClock(START).now(),
            kind="NON_MIGRATABLE",
            actor="operator",
            reason="firmware cannot take the ECoS certificate",
        )
    simulation = simulate(engine, tmp_path, settings=settings)
    run_days(simulation, days_between(START, START + timedelta(days=6)))
    with engine.connect() as connection:
        per_model = dict(
            connection.execute(
                select(attempt.c.model_id, func.count()).group_by(attempt.c.model_id)
            ).all()
        )
        model_b = get_model(connection, MODEL_B)
        progress = model_progress(connection)
    assert model_b.state is ModelState.NON_MIGRATABLE
    assert model_b.id not in per_model
    assert model_state(engine, MODEL_A) is ModelState.BULK
    model_a = progress[min(per_model)]
    assert model_a.proving_devices == sum(settings.proving.steps)
    assert model_a.migrated == 30
    assert model_a.failed == 0
    simulation.close()
