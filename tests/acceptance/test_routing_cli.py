"""The routing commands run as a process on real files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine

from ecos_migration.routing.duis import parse_document
from ecos_migration.routing.signature import load_private_key, verify_signature
from ecos_migration.routing.trust import TrustStore
from routing_support import (
    AT,
    CANCELLATION,
    ECOS_DEVICE,
    SUPPLIER,
    case_documents,
    key_paths,
    load_devices,
    make_parties,
    make_trust_store,
    request_bytes,
    schema_path,
    unsigned_request,
)


def _cli(database_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecos_migration", "--db", database_url, *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def options(smartdcc: Path, tmp_path: Path) -> list[str]:
    return [
        "--schema",
        str(schema_path(smartdcc)),
        "--trust-store",
        str(make_trust_store(smartdcc, tmp_path / "trust")),
        "--parties",
        str(make_parties(tmp_path / "parties.csv")),
        "--at",
        AT.isoformat(),
    ]


def test_route_prints_every_decision(
    engine: Engine, database_url: str, smartdcc: Path, tmp_path: Path, options: list[str]
) -> None:
    load_devices(engine)
    cases = case_documents(smartdcc)
    unsigned = tmp_path / "unsigned.xml"
    unsigned.write_bytes(unsigned_request(smartdcc))
    files = []
    for name, (data, _, _) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        files.append(str(path))

    result = _cli(database_url, "route", *options, "--json", *files, str(unsigned))
    assert result.returncode == 0, result.stderr
    decisions = {Path(item["file"]).name: item for item in json.loads(result.stdout)}
    for name, (_, route, reason) in cases.items():
        assert decisions[name]["decision"] == route, name
        assert decisions[name]["reason"] == reason, name
    assert decisions["unsigned.xml"]["reason"] == "SIGNATURE_MISSING"
    assert decisions["migrating.xml"]["retry_after"] > 0
    assert set(decisions["tcos.xml"]) >= {"file", "request_id", "device_id", "decision", "reason"}

    table = _cli(database_url, "route", *options, files[0])
    assert table.returncode == 0, table.stderr
    assert "TCOS_PARTY" in table.stdout


@pytest.mark.parametrize("at", ["2017-12-31T23:59:59Z", "2118-01-01T00:00:01+00:00"])
def test_route_outside_certificate_validity(  # noqa: PLR0917 - pytest passes fixtures by position
    engine: Engine, database_url: str, smartdcc: Path, tmp_path: Path, options: list[str], at: str
) -> None:
    load_devices(engine)
    request = tmp_path / "tcos.xml"
    request.write_bytes(request_bytes(smartdcc, counter=31))
    before_or_after = [*options[:-1], at]
    result = _cli(database_url, "route", *before_or_after, "--json", str(request))
    assert result.returncode == 0, result.stderr
    [decision] = json.loads(result.stdout)
    assert decision["decision"] == "REJECT"
    assert decision["reason"] == "SIGNER_CERTIFICATE_NOT_VALID"


def test_route_outcome_records_evidence(
    engine: Engine, database_url: str, smartdcc: Path, tmp_path: Path, options: list[str]
) -> None:
    load_devices(engine)
    request = tmp_path / "ecos.xml"
    request.write_bytes(request_bytes(smartdcc, device_id=ECOS_DEVICE, counter=77))
    routed = json.loads(_cli(database_url, "route", *options, "--json", str(request)).stdout)
    request_id = routed[0]["request_id"]

    result = _cli(database_url, "route-outcome", request_id, "--success")
    assert result.returncode == 0, result.stderr
    assert "SUCCEEDED" in result.stdout
    assert "evidence" in result.stdout
    again = _cli(database_url, "route-outcome", request_id, "--failure")
    assert again.returncode == 1
    assert "already SUCCEEDED" in again.stderr
    assert "Traceback" not in again.stderr


def test_route_without_schema_explains(database_url: str, engine: Engine, tmp_path: Path) -> None:
    request = tmp_path / "r.xml"
    request.write_bytes(b"<a/>")
    result = _cli(
        database_url, "route", "--trust-store", str(tmp_path), "--parties", "x.csv", str(request)
    )
    assert result.returncode == 1
    assert "--schema or ECOS_MIGRATION_DUIS_SCHEMA" in result.stderr
    assert "Traceback" not in result.stderr


def test_duis_sign_der_and_pem(
    smartdcc: Path, tmp_path: Path, engine: Engine, database_url: str
) -> None:
    key, certificate = key_paths(smartdcc, SUPPLIER)
    template = smartdcc / "duis" / "requests" / CANCELLATION
    out = tmp_path / "signed.xml"
    result = _cli(
        database_url,
        "duis",
        "sign",
        str(template),
        "--key",
        str(key),
        "--cert",
        str(certificate),
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    trust_store = TrustStore.from_folder(smartdcc / "duis" / "keys")
    verify_signature(parse_document(out.read_bytes()), trust_store)

    pem_key = tmp_path / "key.pem"
    pem_key.write_bytes(
        load_private_key(key.read_bytes()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    printed = _cli(
        database_url,
        "duis",
        "sign",
        str(template),
        "--key",
        str(pem_key),
        "--cert",
        str(certificate),
    )
    assert printed.returncode == 0, printed.stderr
    verify_signature(parse_document(printed.stdout.encode()), trust_store)


def test_duis_sign_rejects_bad_key(
    smartdcc: Path, tmp_path: Path, database_url: str, engine: Engine
) -> None:
    _, certificate = key_paths(smartdcc, SUPPLIER)
    bad = tmp_path / "bad.key"
    bad.write_bytes(b"nothing")
    template = smartdcc / "duis" / "requests" / CANCELLATION
    result = _cli(
        database_url, "duis", "sign", str(template), "--key", str(bad), "--cert", str(certificate)
    )
    assert result.returncode == 1
    assert "PKCS#8" in result.stderr


def test_serve_routes_over_http(
    engine: Engine, database_url: str, smartdcc: Path, options: list[str]
) -> None:
    load_devices(engine)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve_options = options[:-2]  # serve validates certificates at the current time
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecos_migration",
            "--db",
            database_url,
            "serve",
            *serve_options,
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the service did not start within 60 s"
                time.sleep(0.2)
        response = httpx.post(
            f"{base}/v1/cos-requests", content=request_bytes(smartdcc, counter=55), timeout=30
        )
        assert response.status_code == 200
        assert response.json()["decision"] == "TCOS_PARTY"
    finally:
        server.terminate()
        server.wait(timeout=30)
