"""Benchmark: the simulated service providers' cost per device, call by call.

Adds N devices to a new simulator state file, then sends N instructions through instruct,
review, replace and reconcile in chunks of 2,000. Every call gets the whole chunk, so each
figure is the cost of one call per device. It then replays the replace call for every
chunk, which returns the remembered results. In the same process it times the floor:
signing N replacement commands with the TCoS key and verifying each against the device's
anchor, and nothing else.

    .venv/bin/python benchmarks/simulator.py --devices 100000
    git archive BASE src | tar -x -C /tmp/before      # the version to compare against
    .venv/bin/python benchmarks/simulator.py --devices 100000 --before /tmp/before/src

Each version runs in a child process of its own, with ``PYTHONPATH`` set to its folder
(``--before``, ``--src``) or with the installed package. With ``--before`` both versions
run ``--rounds`` times, alternately, and the script checks that they returned the same
results (a SHA-256 digest of every step's error codes). Prints one line per child run and
then the figures as JSON. Times are wall (``perf_counter``) and CPU (``process_time``) per
device, in microseconds. The signing and verifying inside the replace call is timed with
wrappers around the two functions, in wall time only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

SCENARIO = """
[default]
review_cos_in_flight = 0.002
comms_failure = 0.003
error_response = 0.002
lost_answer = 0.002
reconciliation_mismatch = 0.001
"""
MODELS = [f"{('ESME', 'GSME')[n % 2]}/M{n % 6:03d}/X{n:02d}/0001" for n in range(40)]
CHUNK = 2000
SEED = 1
STEPS = ("instruct", "review", "replace", "reconcile")
T = TypeVar("T")


class Timer:
    """Wall and CPU seconds added up over the timed blocks of one measurement."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._wall_start = 0.0
        self._cpu_start = 0.0

    def __enter__(self) -> Timer:
        self._wall_start = time.perf_counter()
        self._cpu_start = time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.cpu += time.process_time() - self._cpu_start
        self.wall += time.perf_counter() - self._wall_start


def timed(function: Callable[..., T], timer: Timer) -> Callable[..., T]:
    """Wrap ``function`` so that its wall time adds up in ``timer``.

    The wrapper costs about 0.2 microseconds a call (``timeit`` on this machine), which
    the wall time of the call that it runs in includes.
    """

    def wrapper(*args: Any) -> T:
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            timer.wall += time.perf_counter() - started

    return wrapper


def measure(devices: int) -> dict[str, object]:
    """Time each provider call and the floor in this process, and return the figures."""
    from ecos_migration.providers.interfaces import Instruction
    from ecos_migration.providers.simulated import parties as parties_module
    from ecos_migration.providers.simulated.scenario import parse_scenario
    from ecos_migration.providers.simulated.state import SimulatorState

    names = (*STEPS, "add_devices", "replace_replayed", "floor", "sign_verify_in_replace")
    timers = {name: Timer() for name in names}
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="ecos-sim-bench-") as folder:
        state = SimulatorState(Path(folder) / "sim.sqlite")
        parties = parties_module.SimulatedParties(
            state, parse_scenario(SCENARIO, "benchmark scenario"), seed=SEED
        )
        ids = [f"00DB{n:012X}" for n in range(devices)]
        with timers["add_devices"]:
            for start in range(0, devices, CHUNK):
                state.add_devices({i: parties.tcos_anchor for i in ids[start : start + CHUNK]})
        chunks = [
            [
                Instruction(f"{device_id}-1", device_id, MODELS[n % len(MODELS)])
                for n, device_id in enumerate(ids[start : start + CHUNK], start=start)
            ]
            for start in range(0, devices, CHUNK)
        ]
        # The replace call finds both functions in the module's globals, so these wrappers
        # time the signing and verifying inside it.
        sign_command = parties_module.sign_command
        device_accepts = parties_module.device_accepts
        parties_module.sign_command = timed(sign_command, timers["sign_verify_in_replace"])
        parties_module.device_accepts = timed(device_accepts, timers["sign_verify_in_replace"])
        for chunk in chunks:
            for name in STEPS:
                call = getattr(parties, name)
                with timers[name]:
                    results = call(chunk)
                for result in results:
                    digest.update(f"{name}|{result.attempt_id}|{result.error_code}\n".encode())
        parties_module.sign_command = sign_command
        parties_module.device_accepts = device_accepts
        for chunk in chunks:
            with timers["replace_replayed"]:
                parties.replace(chunk)
        state.close()

        # The floor: the same keys, signing and verifying only.
        anchor = parties.tcos_anchor
        certificate = parties.ecos_certificate
        for chunk in chunks:
            with timers["floor"]:
                for instruction in chunk:
                    command = parties_module.replacement_command(instruction, certificate)
                    signature = parties_module.sign_command(parties.signer, command)
                    if not parties_module.device_accepts(anchor, command, signature):
                        raise RuntimeError("the floor's own signature did not verify")

    figures: dict[str, object] = {"devices": devices, "results_sha256": digest.hexdigest()}
    for name, timer in timers.items():
        figures[f"{name}_wall_us"] = round(timer.wall / devices * 1e6, 2)
        if name != "sign_verify_in_replace":  # timed in wall time only
            figures[f"{name}_cpu_us"] = round(timer.cpu / devices * 1e6, 2)
    return figures


def run_child(devices: int, src: Path | None) -> dict[str, object]:
    """Run ``measure`` in a child process on the package in ``src`` (or the installed one)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, __file__, "--devices", str(devices), "--child"]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    figures: dict[str, object] = json.loads(output.stdout)
    figures["src"] = str(src) if src is not None else "installed"
    return figures


def describe(label: str, figures: dict[str, object]) -> str:
    """Return one line of a child run's figures: CPU microseconds per device."""
    parts = [f"{name} {figures[f'{name}_cpu_us']}" for name in (*STEPS, "floor")]
    inside = float(str(figures["sign_verify_in_replace_wall_us"]))
    share = inside / float(str(figures["replace_wall_us"]))
    return (
        f"{label}: CPU us per device: {', '.join(parts)}; "
        f"replace replayed {figures['replace_replayed_cpu_us']}. "
        f"Sign and verify took {inside} us (wall) per device inside replace, {share:.0%} of "
        f"its wall time. Load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000, help="devices and instructions")
    parser.add_argument(
        "--src", type=Path, help="folder of the ecos_migration package to time (default: installed)"
    )
    parser.add_argument(
        "--before", type=Path, help="folder of another version of the package to time too"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each version, alternating (default 1)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.devices)))
        return

    runs: list[dict[str, object]] = []
    for round_number in range(1, args.rounds + 1):
        for label, src in (("before", args.before), ("after", args.src)):
            if label == "before" and args.before is None:
                continue
            figures = run_child(args.devices, src)
            figures["label"] = label
            figures["round"] = round_number
            figures["load_average"] = [round(load, 2) for load in os.getloadavg()]
            runs.append(figures)
            print(describe(f"round {round_number} {label}", figures), flush=True)
    digests = {str(figures["results_sha256"]) for figures in runs}
    if len(digests) != 1:
        sys.exit(f"the versions returned different results: {sorted(digests)}")
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
