"""Benchmark of SRV 6.23 routing against a store of many devices, in process and over HTTP.

Measures, in one run on one machine:

- the floor: ECDSA P-256 / SHA-256 verifications per second with ``cryptography``;
- in process, one request per transaction: requests per second and latency percentiles;
- in process, batches of requests per transaction: requests per second;
- over HTTP: ``ecos-migration serve`` with N worker processes on 127.0.0.1, driven by a
  bounded pool of client threads (httpx, keep-alive): requests per second and latency.

The requests are DCC's immediate 6.23 template with the RequestID pointed at random devices of
the store (half hold TCOS, half ECOS), each signed with the public supplier test key.

Example (the test data folder holds ``duis/keys``, ``duis/xsd`` and ``duis/requests``)::

    .venv/bin/python benchmarks/routing.py --testdata PATH --devices 1000000 --requests 5000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from sqlalchemy import func, select

from ecos_migration.domain.device import (
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    SmiStatus,
    duis_device_id,
)
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.routing.duis import SR_NAMESPACE, parse_document
from ecos_migration.routing.parties import Parties
from ecos_migration.routing.router import RequestChecker, route_documents
from ecos_migration.routing.signature import load_certificate, load_private_key, sign_document
from ecos_migration.routing.trust import TrustStore
from ecos_migration.store.database import create_database_engine, upgrade_schema
from ecos_migration.store.devices import DeviceRecord, upsert_devices
from ecos_migration.store.schema import device

SUPPLIER = "90B3D51F30010000"
TEMPLATE = "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"
MODEL = DeviceModelKey(DeviceType.ESME, "AB01", "010A030B", "0002012F")
LOAD_BATCH = 100_000
IN_SCOPE = frozenset({DeviceType.ESME, DeviceType.GSME, DeviceType.GPF})
POLICY = EligibilityPolicy()


def device_id(index: int) -> str:
    """Return the EUI-64 of the benchmark's device number ``index``."""
    return f"BE{index:014X}"


def load_store(database_url: str, devices: int) -> float:
    """Create the schema and load ``devices`` devices unless present; return seconds spent."""
    engine = create_database_engine(database_url)
    upgrade_schema(engine)
    with engine.connect() as connection:
        present = connection.execute(select(func.count()).select_from(device)).scalar_one()
    started = time.perf_counter()
    now = datetime.now(UTC)
    for start in range(present, devices, LOAD_BATCH):
        records = [
            DeviceRecord(
                id=device_id(index),
                device_type=DeviceType.ESME,
                generation=Generation.SMETS2,
                smi_status=SmiStatus.COMMISSIONED,
                model_key=MODEL,
                commissioned_on=date(2024, 1, 1),
                credential=Credential.TCOS if index % 2 == 0 else Credential.ECOS,
            )
            for index in range(start, min(start + LOAD_BATCH, devices))
        ]
        with engine.begin() as connection:
            upsert_devices(connection, records, on=now.date(), now=now, seed=1, policy=POLICY)
        print(f"loaded {start + len(records)} devices", file=sys.stderr)
    engine.dispose()
    return time.perf_counter() - started


def signed_requests(testdata: Path, devices: int, count: int, seed: int) -> list[bytes]:
    """Sign ``count`` requests for random devices of the store."""
    keys = testdata / "duis" / "keys"
    key = load_private_key((keys / f"xml-sign-{SUPPLIER}-ds.key").read_bytes())
    certificate = load_certificate((keys / f"xml-sign-{SUPPLIER}-ds.pem").read_bytes())
    template = (testdata / "duis" / "requests" / TEMPLATE).read_bytes()
    chooser = random.Random(seed)
    documents = []
    for counter in range(count):
        root = parse_document(template)
        request_id = root.find(f"{{{SR_NAMESPACE}}}Header/{{{SR_NAMESPACE}}}RequestID")
        assert request_id is not None
        target = duis_device_id(device_id(chooser.randrange(devices)))
        request_id.text = f"{duis_device_id(SUPPLIER)}:{target}:{counter + 1}"
        sign_document(root, key, certificate)
        documents.append(etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8"))
    return documents


def ecdsa_floor(seconds: float) -> tuple[float, float]:
    """Return ECDSA P-256 SHA-256 verifications per wall second and per CPU second."""
    key = ec.generate_private_key(ec.SECP256R1())
    message = os.urandom(600)
    signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    public_key = key.public_key()
    count = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    while time.perf_counter() - started < seconds:
        for _ in range(200):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        count += 200
    return count / (time.perf_counter() - started), count / (time.process_time() - cpu_started)


@dataclass
class Measure:
    """Requests per second and latency percentiles in milliseconds."""

    requests: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: float
    percentiles_ms: tuple[float, float] | None = None

    def summary(self) -> dict[str, float]:
        """Return the figures as a dictionary.

        ``requests_per_cpu_second`` divides by the CPU time of the routing process (or of the
        service's processes), so it is the rate per core and is less skewed than the wall
        rate when other work shares the machine.
        """
        result = {
            "requests": self.requests,
            "requests_per_second": self.requests / self.seconds,
            "requests_per_cpu_second": self.requests / self.cpu_seconds,
        }
        if self.percentiles_ms:
            result["p50_ms"], result["p99_ms"] = self.percentiles_ms
        elif self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            result["p50_ms"] = statistics.median(ordered)
            result["p99_ms"] = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return result


def in_process(
    checker: RequestChecker, database_url: str, documents: list[bytes], batch: int
) -> Measure:
    """Route ``documents`` in process, ``batch`` requests per transaction."""
    engine = create_database_engine(database_url)
    at = datetime.now(UTC)
    latencies: list[float] = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for start in range(0, len(documents), batch):
        begun = time.perf_counter()
        routed = route_documents(
            engine,
            checker,
            documents[start : start + batch],
            at=at,
            in_scope_device_types=IN_SCOPE,
            eligibility_policy=POLICY,
        )
        assert all(item.decision.route.is_forwarded for item in routed), routed[0]
        if batch == 1:
            latencies.append((time.perf_counter() - begun) * 1000)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    engine.dispose()
    return Measure(len(documents), seconds, latencies, cpu_seconds)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def over_http(
    arguments: argparse.Namespace, folder: Path, documents: list[bytes], database_url: str
) -> Measure:
    """Route ``documents`` through ``ecos-migration serve`` on loopback for a fixed time."""
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "ecos_migration",
        "--db",
        database_url,
        "serve",
        "--schema",
        str(arguments.testdata / "duis" / "xsd" / "DUIS Schema V5.4.xsd"),
        "--trust-store",
        str(folder / "trust"),
        "--parties",
        str(folder / "parties.csv"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(arguments.workers),
    ]
    server = subprocess.Popen(command)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the routing service did not start") from None
                time.sleep(0.2)
        cpu_before = _tree_cpu_seconds(server.pid)
        if arguments.client == "wrk":
            measure = _drive_wrk(base, documents, folder, arguments)
        else:
            measure = _drive(base, documents, arguments.threads, arguments.http_seconds)
        measure.cpu_seconds = _tree_cpu_seconds(server.pid) - cpu_before
        return measure
    finally:
        server.terminate()
        server.wait(timeout=30)


def _tree_cpu_seconds(root_pid: int) -> float:
    """Return the user and system CPU seconds of a process and its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    tree = {root_pid}
    changed = True
    while changed:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        changed = bool(children)
        tree |= children
    return sum(times.get(pid, 0.0) for pid in tree)


_WRK_SCRIPT = """
local bodies = {}
local folder = os.getenv("ROUTING_BODY_FOLDER")
for i = 0, tonumber(os.getenv("ROUTING_BODY_COUNT")) - 1 do
  local file = io.open(folder .. "/" .. i .. ".xml", "rb")
  bodies[#bodies + 1] = file:read("*a")
  file:close()
end
local sent = 0
request = function()
  sent = sent + 1
  return wrk.format("POST", "/v1/cos-requests", {["Content-Type"] = "application/xml"},
                    bodies[(sent % #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("ROUTING %d %d %f %f %d\\n", summary.requests, summary.duration,
                         latency:percentile(50), latency:percentile(99), summary.errors.status))
end
"""


def _drive_wrk(
    base: str, documents: list[bytes], folder: Path, arguments: argparse.Namespace
) -> Measure:
    """Drive the service with wrk (C, keep-alive), cycling through the signed requests."""
    bodies = folder / "bodies"
    bodies.mkdir(exist_ok=True)
    for index, data in enumerate(documents):
        (bodies / f"{index}.xml").write_bytes(data)
    script = folder / "routing.lua"
    script.write_text(_WRK_SCRIPT, encoding="utf-8")
    environment = {
        **os.environ,
        "ROUTING_BODY_FOLDER": str(bodies),
        "ROUTING_BODY_COUNT": str(len(documents)),
    }
    output = subprocess.run(
        [
            "wrk",
            "-t",
            str(arguments.wrk_threads),
            "-c",
            str(arguments.threads),
            "-d",
            f"{round(arguments.http_seconds)}s",
            "-s",
            str(script),
            f"{base}/v1/cos-requests",
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    ).stdout
    line = next(item for item in output.splitlines() if item.startswith("ROUTING "))
    requests, duration_us, p50_us, p99_us, bad_status = line.split()[1:]
    if int(bad_status):
        raise RuntimeError(f"{bad_status} responses were not 200 OK: {output}")
    seconds = int(duration_us) / 1e6
    measure = Measure(int(requests), seconds, [], cpu_seconds=seconds)
    measure.percentiles_ms = (float(p50_us) / 1000, float(p99_us) / 1000)
    return measure


def _drive(base: str, documents: list[bytes], threads: int, seconds: float) -> Measure:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    def client(number: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as session:
            index = number
            while time.perf_counter() < stop:
                begun = time.perf_counter()
                response = session.post(
                    "/v1/cos-requests",
                    content=documents[index % len(documents)],
                    headers={"content-type": "application/xml"},
                )
                latencies[number].append((time.perf_counter() - begun) * 1000)
                if response.status_code != 200 or response.json()["decision"] == "REJECT":
                    errors.append(response.text)
                index += threads

    started = time.perf_counter()
    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    flat = [value for values in latencies for value in values]
    return Measure(len(flat), elapsed, flat, cpu_seconds=elapsed)


def main() -> None:
    """Run the benchmark and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--testdata",
        type=Path,
        required=True,
        help="folder holding duis/keys, duis/xsd and duis/requests",
    )
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--devices", type=int, default=1_000_000, help="devices in the store")
    parser.add_argument("--requests", type=int, default=5000, help="signed requests to route")
    parser.add_argument("--batch", type=int, default=500, help="requests per transaction")
    parser.add_argument("--workers", type=int, default=2, help="service worker processes")
    parser.add_argument(
        "--client",
        choices=["wrk", "httpx"],
        default="wrk" if shutil.which("wrk") else "httpx",
        help="HTTP load generator (default: wrk when installed)",
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="HTTP connections (client threads for httpx)"
    )
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--http-seconds", type=float, default=20.0, help="HTTP run length (s)")
    parser.add_argument("--floor-seconds", type=float, default=3.0, help="ECDSA run length (s)")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="routing-benchmark-") as temporary:
        folder = Path(temporary)
        database_url = arguments.db or f"sqlite:///{folder / 'routing.db'}"
        trust = folder / "trust"
        trust.mkdir()
        shutil.copy(arguments.testdata / "duis" / "keys" / f"xml-sign-{SUPPLIER}-ds.pem", trust)
        (folder / "parties.csv").write_text(
            f"party_id,name,user_roles\n{SUPPLIER},Benchmark supplier,IS GS\n", encoding="utf-8"
        )

        load_seconds = load_store(database_url, arguments.devices)
        documents = signed_requests(arguments.testdata, arguments.devices, arguments.requests, 7)
        checker = RequestChecker(
            arguments.testdata / "duis" / "xsd" / "DUIS Schema V5.4.xsd",
            TrustStore.from_folder(trust),
            Parties.from_csv(folder / "parties.csv"),
        )
        floor, floor_cpu = ecdsa_floor(arguments.floor_seconds)
        single = in_process(checker, database_url, documents, 1)
        batched = in_process(checker, database_url, documents, arguments.batch)
        http = over_http(arguments, folder, documents, database_url)

    cores = os.cpu_count() or 1
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()}",
        "database": (arguments.db or "sqlite (temporary file)").split("@")[-1],
        "devices": arguments.devices,
        "load_seconds": load_seconds,
        "ecdsa_verifications_per_second": floor,
        "ecdsa_verifications_per_cpu_second": floor_cpu,
        "in_process_single": single.summary(),
        "in_process_batch": {"batch": arguments.batch, **batched.summary()},
        "in_process_share_of_floor": {
            "single": single.requests / single.cpu_seconds / floor_cpu,
            "batch": batched.requests / batched.cpu_seconds / floor_cpu,
        },
        "http": {
            "workers": arguments.workers,
            "client": arguments.client,
            "connections": arguments.threads,
            **http.summary(),
            "requests_per_second_per_core": http.requests / http.seconds / cores,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
