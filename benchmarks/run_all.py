"""Run every benchmark one after another at the size given, printing each one's figures.

Each benchmark is a separate process so that its peak memory is its own. At the default
1,000,000 devices the whole set takes well over an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTDATA = HERE.parent.parent / "shared" / "testdata" / "smartdcc"

BENCHMARKS = ("inventory_import", "migration_run", "simulator", "routing", "reports")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1_000_000, help="devices in each store")
    parser.add_argument(
        "--only", choices=BENCHMARKS, action="append", help="run only these (repeatable)"
    )
    arguments = parser.parse_args()
    failed = []
    for name in arguments.only or BENCHMARKS:
        command = [sys.executable, str(HERE / f"{name}.py"), "--devices", str(arguments.devices)]
        if name == "routing":
            command += ["--testdata", str(TESTDATA)]
        print(f"== {name}: {' '.join(command)}", flush=True)
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
