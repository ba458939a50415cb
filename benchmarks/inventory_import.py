"""Benchmark: import a generated inventory CSV into SQLite and PostgreSQL.

Times, for the same generated file:
- the floor: the database's own bulk load into a table of the same columns (the sqlite3
  shell's ``.import`` and psql's ``\\copy``), with no validation;
- ``ecos-migration inventory import`` run as a child process, with its CPU time and peak
  memory (``ru_maxrss`` of that child alone, read with ``os.wait4``);
- ``summarise_eligibility`` on the imported store.

Run: ``python benchmarks/inventory_import.py --devices 1000000 --out FILE.json``.
PostgreSQL is reached at ``--postgres`` (default the test server on 127.0.0.1:5432); the
benchmark creates a scratch database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg

from ecos_migration.config import load_settings
from ecos_migration.inventory.csv_reader import INVENTORY_COLUMNS
from ecos_migration.store.database import create_database_engine
from ecos_migration.store.eligibility import summarise_eligibility

COLUMNS = list(INVENTORY_COLUMNS)
ON = date(2023, 7, 1)


def generate(path: Path, devices: int, seed: int = 7) -> None:
    """Write a realistic inventory: premises with a hub (CHF, GPF), an ESME and often a GSME."""
    rng = random.Random(seed)
    models = {
        "ESME": [("AB01", f"E{m:02d}", f"{fw:08X}") for m in range(8) for fw in range(3)],
        "GSME": [("CD02", f"G{m:02d}", f"{fw:08X}") for m in range(5) for fw in range(2)],
        "CHF": [("HB03", f"H{m:02d}", f"{fw:08X}") for m in range(3) for fw in range(2)],
    }
    suppliers = [f"SUP{n:02d}" for n in range(20)]
    written = 0
    serial = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        while written < devices:
            serial += 1
            base = serial * 16
            chf = f"{base:016X}"
            hub_model = rng.choice(models["CHF"])
            smets1 = rng.random() < 0.08
            generation = "SMETS1" if smets1 else "SMETS2"
            commissioned = ON - timedelta(days=rng.randint(0, 2000))
            status = "Commissioned" if rng.random() < 0.95 else "InstalledNotCommissioned"
            supplier = rng.choice(suppliers)
            changed = ON - timedelta(days=rng.randint(0, 900)) if rng.random() < 0.3 else None
            credential = rng.choices(["TCOS", "UNKNOWN", "ECOS", ""], [90, 3, 5, 2])[0]
            comms = "FAILED" if rng.random() < 0.02 else ""
            rows = [
                (chf, "CHF", generation, status, *hub_model, "", "", "", commissioned, None, "", "")
            ]
            rows.append(
                (
                    f"{base + 1:016X}",
                    "GPF",
                    generation,
                    status,
                    *hub_model,
                    chf,
                    supplier,
                    "",
                    commissioned,
                    changed,
                    comms,
                    credential,
                )
            )
            rows.append(
                (
                    f"{base + 2:016X}",
                    "ESME",
                    generation,
                    status,
                    *rng.choice(models["ESME"]),
                    "",
                    supplier,
                    f"{serial:013d}",
                    commissioned,
                    changed,
                    comms,
                    credential,
                )
            )
            if rng.random() < 0.7:
                rows.append(
                    (
                        f"{base + 3:016X}",
                        "GSME",
                        generation,
                        status,
                        *rng.choice(models["GSME"]),
                        "",
                        supplier,
                        f"{serial:010d}",
                        commissioned,
                        changed,
                        comms,
                        credential,
                    )
                )
            for row in rows[: devices - written]:
                writer.writerow(["" if v is None else v for v in row])
                written += 1


@dataclass(frozen=True)
class ChildRun:
    """Wall time, CPU time and peak memory of one child process."""

    seconds: float
    cpu_seconds: float
    peak_mib: int


def timed(
    command: list[str], stdin: bytes | None = None, env: dict[str, str] | None = None
) -> ChildRun:
    """Run ``command`` and measure it alone, through ``os.wait4`` on its process id."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    assert process.stderr is not None
    errors = process.stderr.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{command[:6]} failed: {errors.decode(errors='replace')}")
    # ru_maxrss is in KiB on Linux.
    return ChildRun(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024)


def sqlite_floor(csv_path: Path, folder: Path) -> ChildRun:
    """Time the sqlite3 shell's ``.import`` into a table with the CSV's columns."""
    db = folder / "floor.db"
    ddl = "CREATE TABLE inventory (" + ", ".join(f"{c} TEXT" for c in COLUMNS) + ");"
    subprocess.run(["sqlite3", str(db), ddl], check=True)
    script = f".mode csv\n.import --skip 1 {csv_path} inventory\n"
    return timed(["sqlite3", str(db)], stdin=script.encode())


def postgres_floor(csv_path: Path, url: str) -> ChildRun:
    """Time psql's ``\\copy`` into a table with the CSV's columns."""
    ddl = "CREATE TABLE inventory (" + ", ".join(f"{c} TEXT" for c in COLUMNS) + ")"
    subprocess.run(["psql", "-q", url, "-c", ddl], check=True)
    copy = f"\\copy inventory FROM '{csv_path}' WITH (FORMAT csv, HEADER)"
    return timed(["psql", "-q", url, "-c", copy])


def product_import(url: str, csv_path: Path, src: Path | None = None) -> ChildRun:
    """Create the schema, then time ``inventory import`` as a child process.

    ``src`` is a folder holding another version of the ``ecos_migration`` package (for
    example ``git archive`` of an earlier commit), run instead of the installed one.
    """
    env = None
    if src is not None:
        env = {**os.environ, "PYTHONPATH": str(src)}
    cli = [sys.executable, "-m", "ecos_migration", "--db", url]
    subprocess.run([*cli, "init"], check=True, stdout=subprocess.DEVNULL, env=env)
    return timed([*cli, "inventory", "import", str(csv_path), "--on", ON.isoformat()], env=env)


def record(figures: dict[str, object], name: str, run: ChildRun) -> None:
    """Add one child run's figures under ``name``.

    The peak memory of a floor child is left out: ``ru_maxrss`` also counts the memory the
    child had between fork and exec, a copy of this Python process.
    """
    figures[f"{name}_seconds"] = round(run.seconds, 2)
    figures[f"{name}_cpu_seconds"] = round(run.cpu_seconds, 2)
    if "floor" not in name:
        figures[f"{name}_peak_mib"] = run.peak_mib


def summary_seconds(url: str) -> float:
    """Time ``summarise_eligibility`` on the imported store (best of two)."""
    engine = create_database_engine(url)
    policy = load_settings().eligibility.policy()
    best = float("inf")
    for _ in range(2):
        with engine.connect() as connection:
            start = time.perf_counter()
            summarise_eligibility(connection, ON, policy)
            best = min(best, time.perf_counter() - start)
    engine.dispose()
    return best


def run(
    devices: int, postgres_admin: str, src: Path | None = None, before: Path | None = None
) -> dict[str, object]:
    """Run every measurement and return the figures.

    With ``before``, the import of that version is timed too, on the same file in the same
    run, so the two can be compared as ratios to the same floor.
    """
    figures: dict[str, object] = {"devices": devices, "on": ON.isoformat()}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "inventory.csv"
        start = time.perf_counter()
        generate(csv_path, devices)
        figures["generate_seconds"] = round(time.perf_counter() - start, 2)
        figures["csv_bytes"] = csv_path.stat().st_size

        startup = timed([sys.executable, "-m", "ecos_migration", "--version"])
        record(figures, "cli_startup", startup)
        record(figures, "sqlite_floor", sqlite_floor(csv_path, folder))
        url = f"sqlite:///{folder / 'product.db'}"
        if before is not None:
            before_url = f"sqlite:///{folder / 'before.db'}"
            record(figures, "sqlite_import_before", product_import(before_url, csv_path, before))
            (folder / "before.db").unlink()
        record(figures, "sqlite_import", product_import(url, csv_path, src))
        figures["sqlite_summary_seconds"] = round(summary_seconds(url), 3)

        name = f"ecos_bench_{uuid.uuid4().hex[:10]}"
        base = postgres_admin.rsplit("/", 1)[0]
        with psycopg.connect(postgres_admin, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            admin.execute(f'CREATE DATABASE "{name}_floor"')
            admin.execute(f'CREATE DATABASE "{name}_before"')
        try:
            record(figures, "postgres_floor", postgres_floor(csv_path, f"{base}/{name}_floor"))
            pg_url = f"{base}/{name}"
            if before is not None:
                run_before = product_import(f"{base}/{name}_before", csv_path, before)
                record(figures, "postgres_import_before", run_before)
            record(figures, "postgres_import", product_import(pg_url, csv_path, src))
            figures["postgres_summary_seconds"] = round(summary_seconds(pg_url), 3)
        finally:
            with psycopg.connect(postgres_admin, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.execute(f'DROP DATABASE IF EXISTS "{name}_floor" WITH (FORCE)')
                admin.execute(f'DROP DATABASE IF EXISTS "{name}_before" WITH (FORCE)')
    for db in ("sqlite", "postgres"):
        floor = figures[f"{db}_floor_seconds"]
        assert isinstance(floor, float)
        for import_name in ("import", "import_before"):
            product = figures.get(f"{db}_{import_name}_seconds")
            if isinstance(product, float):
                figures[f"{db}_{import_name}_to_floor_ratio"] = round(product / floor, 2)
    return figures


def main() -> None:
    """Parse the arguments, run the benchmark and write the JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000, help="devices in the CSV")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "ECOS_MIGRATION_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="URL of a PostgreSQL admin database on this machine",
    )
    parser.add_argument("--out", type=Path, help="write the JSON figures to this file")
    parser.add_argument(
        "--src", type=Path, help="folder of the ecos_migration package to time (default: installed)"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="folder of an earlier ecos_migration package to time in the same run",
    )
    args = parser.parse_args()
    figures = run(args.devices, args.postgres, args.src, args.before)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
