"""Benchmark: every report on a SQLite store of 1,000,000 devices after a full run.

Builds the store once (``--db`` keeps it for later runs), then runs each report in a child
process and records its wall time and peak resident memory (the child's ``ru_maxrss``).

    .venv/bin/python benchmarks/reports.py --devices 1000000 --db /tmp/reports-1m.sqlite

The fleet is what a run leaves behind. A quarter of the devices are communications hubs,
out of scope. Of the others, 94% are MIGRATED with one successful attempt, 1% are Failed
Migrations with two failed attempts, 2% are on Non-Migratable models, 1% have failed
communications and 2% are still eligible. Each device has a DEVICE_ADDED event, and each
migrated or failed device a MIGRATED or FAILED_MIGRATION event.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ecos_migration.config import load_settings
from ecos_migration.store.database import create_database_engine, upgrade_schema

REPORT_DAY = date(2024, 10, 20)
LIVE = date(2023, 6, 30)
SUPPLIERS = 30
MODELS_PER_TYPE = 20
NON_MIGRATABLE_MODELS = {0, 7, 13}
CHUNK = 100_000
TYPES = ("ESME", "GSME", "GPF", "CHF")
ERROR_CODES = ("COMMAND_REJECTED", "NO_RESPONSE", "REVIEW_REFUSED", "COMMS_FAILURE")


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _models(cursor: Any) -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {}
    model_id = 0
    for device_type in TYPES[:3]:
        for index in range(MODELS_PER_TYPE):
            model_id += 1
            non_migratable = index in NON_MIGRATABLE_MODELS
            cursor.execute(
                "INSERT INTO device_model (id, device_type, manufacturer, model, firmware_version,"
                " state, state_reason, state_changed_on, non_migratable_on)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model_id,
                    device_type,
                    f"M{index:03d}",
                    f"{device_type[0]}{index:04d}",
                    f"{index:08X}",
                    "NON_MIGRATABLE" if non_migratable else "BULK",
                    "Rejects the replacement command." if non_migratable else None,
                    "2024-01-15",
                    "2024-01-15" if non_migratable else None,
                ),
            )
            if non_migratable:
                cursor.execute(
                    "INSERT INTO appeal (model_id, supplier_id, status, recorded_on)"
                    " VALUES (?, 'SUP000', 'LODGED', '2024-02-01')",
                    (model_id,),
                )
            ids.setdefault(device_type, []).append(model_id)
    return ids


def _kind(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.01:
        return "FAILED"
    if roll < 0.03:
        return "NON_MIGRATABLE"
    if roll < 0.04:
        return "COMMS"
    if roll < 0.06:
        return "ELIGIBLE"
    return "MIGRATED"


def build_store(path: Path, devices: int) -> None:
    """Write a store of ``devices`` devices as a full run leaves it."""
    engine = create_database_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    rng = random.Random(20241020)
    models = _models(cursor)
    recorded = datetime(2024, 10, 20, 12, tzinfo=UTC).isoformat(sep=" ")
    device_rows: list[tuple[Any, ...]] = []
    attempt_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    migrated_per_day: dict[date, int] = {}

    def flush() -> None:
        cursor.executemany(
            "INSERT INTO device (id, device_type, generation, smi_status, model_id, chf_id,"
            " supplier_id, commissioned_on, comms_status, credential, migration_state,"
            " first_seen_on, reason, evaluated_on, selection_key)"
            " VALUES (?, ?, 'SMETS2', ?, ?, ?, ?, '2022-05-01', ?, ?, ?, '2023-01-01', ?, ?, ?)",
            device_rows,
        )
        cursor.executemany(
            "INSERT INTO attempt (id, device_id, model_id, number, started_on, step, status,"
            " error_code, finished_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            attempt_rows,
        )
        cursor.executemany(
            "INSERT INTO device_event (device_id, occurred_on, recorded_at, kind, error_code)"
            " VALUES (?, ?, ?, ?, ?)",
            event_rows,
        )
        device_rows.clear()
        attempt_rows.clear()
        event_rows.clear()

    span = (REPORT_DAY - LIVE).days
    for number in range(devices):
        identifier = f"{number:016X}"
        device_type = TYPES[number % 4]
        supplier = f"SUP{rng.randrange(SUPPLIERS):03d}"
        on = REPORT_DAY.isoformat()
        event_rows.append((identifier, "2023-01-01", recorded, "DEVICE_ADDED", None))
        if device_type == "CHF":
            device_rows.append(
                (
                    identifier,
                    device_type,
                    "Commissioned",
                    None,
                    None,
                    supplier,
                    "OK",
                    "NOT_APPLICABLE",
                    "NOT_STARTED",
                    "OUT_OF_SCOPE_DEVICE_TYPE",
                    on,
                    rng.getrandbits(62),
                )
            )
        else:
            kind = _kind(rng)
            pool = models[device_type]
            if kind == "NON_MIGRATABLE":
                model_id = pool[rng.choice(sorted(NON_MIGRATABLE_MODELS))]
            else:
                model_id = pool[
                    rng.choice(
                        [i for i in range(MODELS_PER_TYPE) if i not in NON_MIGRATABLE_MODELS]
                    )
                ]
            chf = f"{number - number % 4 + 3:016X}" if device_type == "GPF" else None
            state, credential, reason, comms = "NOT_STARTED", "TCOS", None, "OK"
            if kind == "MIGRATED":
                state, credential, reason = "MIGRATED", "ECOS", "ALREADY_ECOS"
                day = LIVE + timedelta(days=rng.randrange(span))
                migrated_per_day[day] = migrated_per_day.get(day, 0) + 1
                attempt_rows.append(
                    (
                        f"{identifier}-1",
                        identifier,
                        model_id,
                        1,
                        day.isoformat(),
                        "RECONCILE",
                        "SUCCEEDED",
                        None,
                        day.isoformat(),
                    )
                )
                event_rows.append((identifier, day.isoformat(), recorded, "MIGRATED", None))
            elif kind == "FAILED":
                state, reason = "AWAITING_REMEDIATION", "AWAITING_REMEDIATION"
                code = rng.choice(ERROR_CODES)
                day = LIVE + timedelta(days=rng.randrange(span - 10))
                for attempt_number in (1, 2):
                    started = (day + timedelta(days=3 * attempt_number)).isoformat()
                    attempt_rows.append(
                        (
                            f"{identifier}-{attempt_number}",
                            identifier,
                            model_id,
                            attempt_number,
                            started,
                            "REPLACE",
                            "FAILED",
                            code,
                            started,
                        )
                    )
                event_rows.append((identifier, started, recorded, "FAILED_MIGRATION", code))
            elif kind == "COMMS":
                comms, reason = "FAILED", "COMMS_FAILURE"
            device_rows.append(
                (
                    identifier,
                    device_type,
                    "Commissioned",
                    model_id,
                    chf,
                    supplier,
                    comms,
                    credential,
                    state,
                    reason,
                    on,
                    rng.getrandbits(62),
                )
            )
        if len(device_rows) >= CHUNK:
            flush()
    flush()

    total_migrated = sum(migrated_per_day.values())
    done = 0
    in_scope = devices - devices // 4
    for day_number in range(span):
        day = LIVE + timedelta(days=day_number)
        migrated = migrated_per_day.get(day, 0)
        done += migrated
        remaining = in_scope - done
        cursor.execute(
            "INSERT INTO run_day (day, started, migrated, failed, retried, in_scope_remaining,"
            " eligible, completed_at) VALUES (?, ?, ?, 0, 0, ?, 0, ?)",
            (day.isoformat(), migrated, migrated, remaining, recorded),
        )
    raw.commit()
    raw.close()
    engine.dispose()
    assert done == total_migrated


def run_one(report: str, db: Path, out: Path) -> None:
    """Run one report in this process and print its wall time and peak memory as JSON."""
    from ecos_migration.domain.error_strategy import load_error_strategy
    from ecos_migration.reporting import write_all_reports
    from ecos_migration.reporting.compliance import period_from_settings
    from ecos_migration.reporting.progress import progress_figures, write_progress_report
    from ecos_migration.reporting.public import write_non_migratable_list
    from ecos_migration.reporting.suppliers import write_supplier_reports, write_workbook

    settings = load_settings()
    engine = create_database_engine(f"sqlite:///{db}")
    strategy = load_error_strategy()
    policy = settings.eligibility.policy()
    started = time.perf_counter()
    if report == "suppliers":
        write_supplier_reports(engine, out, on=REPORT_DAY, policy=policy, strategy=strategy)
    elif report == "progress":
        figures = progress_figures(
            engine,
            on=REPORT_DAY,
            period=period_from_settings(settings.period),
            policy=policy,
            strategy=strategy,
        )
        write_progress_report(out, figures)
    elif report == "non-migratable":
        write_non_migratable_list(engine, out, on=REPORT_DAY)
    elif report == "all":
        write_all_reports(engine, settings, out, REPORT_DAY, strategy)
    elif report == "workbook":
        # What one workbook worker does for the supplier folder ``out``.
        write_workbook(out, [])
    else:
        raise SystemExit(f"unknown report {report!r}")
    seconds = time.perf_counter() - started
    # Workbook worker processes have ended by now. Their largest peak is an upper bound,
    # because ru_maxrss also counts what a worker inherited before it called execve.
    worker_peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    workers = (os.cpu_count() or 1) if report in ("suppliers", "all") else 0
    result = {
        "report": report,
        "seconds": round(seconds, 2),
        "peak_mib": _peak_mib(),
        "workers": workers,
        "worker_peak_mib": worker_peak_mib if workers else 0,
    }
    print(json.dumps(result))


def _peak_mib() -> int:
    """Return this process's peak resident memory in MiB.

    Linux keeps ``ru_maxrss`` across ``execve``, so a child started by a large parent would
    report the parent's peak. ``VmHWM`` in /proc/self/status counts the new program alone.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000, help="devices in the store")
    parser.add_argument(
        "--db", type=Path, help="SQLite file to build or reuse (default: temporary)"
    )
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        run_one(args.run_one, args.db, args.out)
        return

    workdir = Path(tempfile.mkdtemp(prefix="ecos-report-bench-"))
    db = args.db or workdir / "store.sqlite"
    if not db.exists():
        started = time.perf_counter()
        build_store(db, args.devices)
        print(f"built {args.devices:,} devices in {time.perf_counter() - started:.1f} s: {db}")
    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    for report in ("suppliers", "progress", "non-migratable", "all"):
        started = time.perf_counter()
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--run-one",
                report,
                "--db",
                str(db),
                "--out",
                str(workdir / report),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        result["process_seconds"] = round(time.perf_counter() - started, 2)
        print(json.dumps(result))

    # A worker's own peak: rebuild the largest supplier's workbook in a fresh process.
    folders = [path for path in (workdir / "suppliers").iterdir() if path.is_dir()]
    largest = max(folders, key=lambda path: sum(f.stat().st_size for f in path.glob("*.csv")))
    output = subprocess.run(
        [sys.executable, __file__, "--run-one", "workbook", "--db", str(db), "--out", str(largest)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(output.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
