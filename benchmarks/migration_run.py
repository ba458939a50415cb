"""Benchmark: N devices through the whole migration period, against the signing floor.

Loads N electricity and gas meters over 40 Device Models (with evidence so every bulk gate opens),
runs every day of the configured migration period with the simulated providers, and reports
devices migrated per second and peak memory. In the same process it times the floor: signing
and verifying N replacement commands with the same keys and nothing else.

    .venv/bin/python benchmarks/migration_run.py --devices 100000
    .venv/bin/python benchmarks/migration_run.py --devices 100000 \
        --postgres postgresql://postgres@127.0.0.1:5432/test

The daily capacity is set so the fleet fits in the period: N / 300 devices a day, at least
the configured capacity.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import psycopg
from sqlalchemy import Engine, func, select

from ecos_migration.clock import FixedClock
from ecos_migration.config import load_settings
from ecos_migration.domain.device import (
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    SmiStatus,
)
from ecos_migration.domain.error_strategy import load_error_strategy
from ecos_migration.domain.evidence import Evidence, EvidenceKind, EvidenceSource
from ecos_migration.engine.run import days_between
from ecos_migration.engine.session import open_simulation, resolve_run
from ecos_migration.providers.interfaces import Instruction
from ecos_migration.providers.simulated.fleet import truth_check
from ecos_migration.providers.simulated.parties import (
    device_accepts,
    replacement_command,
    sign_command,
)
from ecos_migration.providers.simulated.pki import generate_pki
from ecos_migration.store.database import (
    RUN_CACHE_MIB,
    create_database_engine,
    upgrade_schema,
    use_sqlite_cache,
)
from ecos_migration.store.devices import DeviceRecord, upsert_devices
from ecos_migration.store.evidence import add_evidence
from ecos_migration.store.models import all_models
from ecos_migration.store.schema import device

MODELS = [
    DeviceModelKey(
        (DeviceType.ESME, DeviceType.GSME)[n % 2],
        f"M{n % 6:03d}",
        f"X{n:02d}",
        "0001",
    )
    for n in range(40)
]
SCENARIO = """
[default]
review_cos_in_flight = 0.002
comms_failure = 0.003
error_response = 0.002
lost_answer = 0.002
reconciliation_mismatch = 0.001
"""
LOAD_BATCH = 50_000
# Simulated days between two VACUUM ANALYZE runs on PostgreSQL.
VACUUM_EVERY_DAYS = 30


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_fleet(engine: Engine, devices: int, live: date) -> float:
    settings = load_settings()
    started = time.perf_counter()
    for first in range(0, devices, LOAD_BATCH):
        rows = [
            DeviceRecord(
                id=f"00DB{n:012X}",
                device_type=MODELS[n % len(MODELS)].device_type,
                generation=Generation.SMETS2,
                smi_status=SmiStatus.COMMISSIONED,
                model_key=MODELS[n % len(MODELS)],
                supplier_id="SUP01",
                commissioned_on=date(2020, 1, 1),
                credential=Credential.TCOS,
            )
            for n in range(first, min(devices, first + LOAD_BATCH))
        ]
        with engine.begin() as connection:
            upsert_devices(
                connection,
                rows,
                on=live,
                now=FixedClock(live).now(),
                seed=1,
                policy=settings.eligibility.policy(),
            )
    with engine.begin() as connection:
        add_evidence(
            connection,
            [
                Evidence("00DB000000000000", kind, live, EvidenceSource.IMPORTED, model_id=m.id)
                for m in all_models(connection)
                for kind in (
                    EvidenceKind.CERTIFICATE_REPLACEMENT_TCOS_TO_TCOS,
                    EvidenceKind.SRV_6_23_SUCCESS,
                )
            ],
        )
    return time.perf_counter() - started


def floor_seconds(devices: int) -> tuple[float, float]:
    """Sign and verify ``devices`` replacement commands with a TCoS key, nothing else;
    return the (wall, CPU) seconds it took."""
    pki = generate_pki()
    anchor = pki.tcos.public_key_der()
    certificate = pki.ecos.certificate_der()
    started = time.perf_counter()
    started_cpu = time.process_time()
    for n in range(devices):
        command = replacement_command(
            Instruction(f"00DB{n:012X}-1", f"00DB{n:012X}", "ESME/M000/X00/0001"), certificate
        )
        assert device_accepts(anchor, command, sign_command(pki.tcos, command))
    return time.perf_counter() - started, time.process_time() - started_cpu


def vacuum(engine: Engine) -> None:
    """On PostgreSQL, vacuum and analyse the store, in the run's time.

    This does the work of autovacuum, which keeps the planner's statistics and the visibility
    map current on a production server but may be off on a test server (it is on the one
    these figures come from). The run grows the attempts and events from nothing, and
    without fresh statistics the planner keeps the plans it chose for empty tables.
    """
    if engine.dialect.name != "postgresql":
        return
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def run_period(url: str, devices: int, work: Path) -> dict[str, float]:
    settings = load_settings()
    live = settings.period.live_date
    last = settings.period.effective_end_date
    engine = create_database_engine(url)
    # The same page cache as `ecos-migration run`.
    use_sqlite_cache(engine, RUN_CACHE_MIB)
    upgrade_schema(engine)
    load = load_fleet(engine, devices, live)
    vacuum(engine)
    capacity = max(settings.capacity.daily, math.ceil(devices / 300))
    parameters = resolve_run(engine, seed=1, start=live, scenario_text=SCENARIO, default_start=live)
    simulation = open_simulation(
        engine,
        settings,
        load_error_strategy(),
        parameters,
        work / f"sim-{uuid.uuid4().hex[:8]}.sqlite",
        daily_capacity=capacity,
    )
    started = time.perf_counter()
    started_cpu = time.process_time()
    for number, day in enumerate(days_between(live, last), start=1):
        simulation.engine.run_day(day)
        if number % VACUUM_EVERY_DAYS == 0:
            vacuum(engine)
    elapsed = time.perf_counter() - started
    elapsed_cpu = time.process_time() - started_cpu
    with engine.connect() as connection:
        migrated = connection.execute(
            select(func.count()).where(device.c.migration_state == "MIGRATED")
        ).scalar_one()
    mismatches = truth_check(engine, simulation.parties, settings.eligibility.policy())
    simulation.close()
    engine.dispose()
    return {
        "load_s": load,
        "run_s": elapsed,
        "run_cpu_s": elapsed_cpu,
        "days": float((last - live).days + 1),
        "capacity": float(capacity),
        "migrated": float(migrated),
        "mismatches": float(len(mismatches)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000, help="devices in the fleet")
    parser.add_argument(
        "--postgres",
        help="PostgreSQL admin URL on 127.0.0.1; a new database is created and dropped",
    )
    parser.add_argument(
        "--no-sqlite", action="store_true", help="run on PostgreSQL only (with --postgres)"
    )
    parser.add_argument("--out", help="also write the figures to this JSON file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ecos-bench-") as folder:
        work = Path(folder)
        targets: list[tuple[str, str]] = []
        if not args.no_sqlite:
            targets.append(("SQLite", f"sqlite:///{work / 'bench.db'}"))
        name = f"ecos_bench_{uuid.uuid4().hex[:8]}"
        if args.postgres:
            with psycopg.connect(args.postgres, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            targets.append(("PostgreSQL", args.postgres.rsplit("/", 1)[0] + f"/{name}"))
        figures: list[dict[str, object]] = []
        try:
            for label, url in targets:
                # The floor just before each run, so both meet the same machine load.
                floor, floor_cpu = floor_seconds(args.devices)
                print(
                    f"floor: sign and verify {args.devices:,} commands in {floor:.1f} s "
                    f"({floor_cpu:.1f} s CPU); load average {os.getloadavg()[0]:.1f}"
                )
                result = run_period(url, args.devices, work)
                rate = result["migrated"] / result["run_s"]
                print(
                    f"{label}: loaded {args.devices:,} devices in {result['load_s']:.1f} s; "
                    f"ran {result['days']:.0f} days (capacity {result['capacity']:.0f}/day) "
                    f"in {result['run_s']:.1f} s ({result['run_cpu_s']:.1f} s CPU); "
                    f"migrated {result['migrated']:,.0f} ({rate:,.0f} devices/s); "
                    f"run/floor {result['run_s'] / floor:.2f}x wall, "
                    f"{result['run_cpu_s'] / floor_cpu:.2f}x CPU; "
                    f"truth mismatches {result['mismatches']:.0f}; "
                    f"peak memory so far {peak_rss_mb():,.0f} MiB; "
                    f"load average {os.getloadavg()[0]:.1f}"
                )
                figures.append(
                    {
                        "store": label,
                        "devices": args.devices,
                        "floor_s": floor,
                        "floor_cpu_s": floor_cpu,
                        **result,
                        "peak_memory_mib": peak_rss_mb(),
                    }
                )
                if args.out:
                    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
        finally:
            if args.postgres:
                with psycopg.connect(args.postgres, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
