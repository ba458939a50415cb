"""The routing service, running under uvicorn on loopback, driven over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from ecos_migration.config import load_settings
from ecos_migration.routing.codes import Route, RouteReason
from ecos_migration.routing.parties import Parties
from ecos_migration.routing.router import RequestChecker
from ecos_migration.routing.trust import TrustStore
from ecos_migration.service import create_app
from routing_support import (
    AT,
    ECOS_DEVICE,
    case_documents,
    load_devices,
    make_parties,
    make_trust_store,
    request_bytes,
    schema_path,
)

ROUTES = {route.value for route in Route}
REASONS = {reason.value for reason in RouteReason} | {None}


class _Clock:
    def today(self) -> date:
        return AT.date()

    def now(self) -> datetime:
        return AT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def app(engine: Engine, smartdcc: Path, tmp_path: Path) -> FastAPI:
    load_devices(engine)
    checker = RequestChecker(
        schema_path(smartdcc),
        TrustStore.from_folder(make_trust_store(smartdcc, tmp_path / "trust")),
        Parties.from_csv(make_parties(tmp_path / "parties.csv")),
    )
    return create_app(engine, checker, load_settings(None), _Clock())


@pytest.fixture
def service(app: FastAPI) -> Iterator[httpx.Client]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the service did not start within 30 s"
        time.sleep(0.02)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield client
    server.should_exit = True
    thread.join(timeout=30)


def _post(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post(
        "/v1/cos-requests", content=body, headers={"content-type": "application/xml"}
    )


def test_service_gives_cli_decisions(service: httpx.Client, smartdcc: Path) -> None:
    for name, (data, route, reason) in case_documents(smartdcc).items():
        response = _post(service, data)
        assert response.status_code == 200, name
        body = response.json()
        assert body["decision"] == route, name
        assert body["reason"] == reason, name
        if route == "HOLD":
            assert response.headers["retry-after"] == str(body["retry_after"])


def test_service_concurrent_requests(service: httpx.Client, smartdcc: Path) -> None:
    cases = list(case_documents(smartdcc).items()) * 3
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda case: _post(service, case[1][0]), cases))
    for (name, (_, route, reason)), response in zip(cases, responses, strict=True):
        assert response.status_code == 200, name
        assert response.json()["decision"] == route, name
        assert response.json()["reason"] == reason, name


def test_service_records_outcome(service: httpx.Client, smartdcc: Path) -> None:
    routed = _post(service, request_bytes(smartdcc, device_id=ECOS_DEVICE, counter=42)).json()
    url = f"/v1/cos-requests/{routed['request_id']}/outcome"
    response = service.post(url, json={"outcome": "SUCCESS"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "SUCCEEDED"
    assert response.json()["evidence_recorded"] is True
    assert service.post(url, json={"outcome": "SUCCESS"}).status_code == 409
    absent = service.post("/v1/cos-requests/absent/outcome", json={"outcome": "FAILURE"})
    assert absent.status_code == 404
    assert service.post(url, json={"outcome": "MAYBE"}).status_code == 422


def test_service_rejects_oversized_body(service: httpx.Client) -> None:
    response = _post(service, b"<a>" + b" " * (1024 * 1024) + b"</a>")
    assert response.status_code == 413
    assert response.json()["decision"] == "REJECT"
    assert response.json()["reason"] == "MALFORMED_XML"


def test_service_describes_openapi(service: httpx.Client) -> None:
    schema = service.get("/openapi.json").json()
    assert "/v1/cos-requests" in schema["paths"]
    assert "/v1/cos-requests/{request_id}/outcome" in schema["paths"]


_MUTATIONS = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.integers(0, 0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=40)),
    st.tuples(
        st.just("replace"),
        st.integers(0, 10**6),
        st.sampled_from(
            [b"&xxe;", b"<!DOCTYPE a>", b"]]>", b"\x00", b"<sr:Body/>", b"6.15", b"00-DB"]
        ),
    ),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutations=st.lists(_MUTATIONS, min_size=1, max_size=4))
def test_service_survives_mutations(
    service: httpx.Client, smartdcc: Path, mutations: list[tuple[str, int, object]]
) -> None:
    body = bytearray(_base_request(smartdcc))
    for kind, position, value in mutations:
        at = position % (len(body) + 1)
        if kind == "flip" and body:
            body[at % len(body)] ^= int(value)  # type: ignore[call-overload]
        elif kind == "cut":
            del body[at:]
        elif isinstance(value, bytes):
            body[at:at] = value
    response = _post(service, bytes(body))
    assert response.status_code < 500
    decision = response.json()
    assert decision["decision"] in ROUTES
    assert decision["reason"] in REASONS
    json.dumps(decision)


_BASE: dict[str, bytes] = {}


def _base_request(smartdcc: Path) -> bytes:
    if "request" not in _BASE:
        _BASE["request"] = request_bytes(smartdcc, counter=5000)
    return _BASE["request"]


def test_service_answers_replay(service: httpx.Client, smartdcc: Path) -> None:
    document = request_bytes(smartdcc, counter=77)
    first = _post(service, document).json()
    again = _post(service, document).json()
    assert first["replay"] is False
    assert again["replay"] is True
    assert again["decision"] == first["decision"] == "TCOS_PARTY"


def test_service_rejects_declared_length(service: httpx.Client) -> None:
    port = service.base_url.port
    assert port is not None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/cos-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/xml\r\nContent-Length: 10000000\r\n\r\n"
        )
        answer = connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"MALFORMED_XML" in answer


def test_service_logs_disconnect(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    messages = [
        {"type": "http.request", "body": b"<a>", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/cos-requests",
        "raw_path": b"/v1/cos-requests",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/xml"), (b"content-length", b"1000")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8623),
    }
    with caplog.at_level(logging.WARNING, logger="ecos_migration.service"):
        asyncio.run(app(scope, receive, send))
    [record] = [r for r in caplog.records if r.name == "ecos_migration.service"]
    assert "/v1/cos-requests" in record.getMessage()
    assert record.exc_info is None


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"content-type": "application/json"}, "not XML"),
        ({"content-type": "text/plain"}, "not XML"),
        ({"content-type": "application/xml", "content-encoding": "gzip"}, "Content-Encoding"),
    ],
)
def test_service_refuses_media_type(
    service: httpx.Client, smartdcc: Path, headers: dict[str, str], message: str
) -> None:
    response = service.post(
        "/v1/cos-requests", content=request_bytes(smartdcc, counter=88), headers=headers
    )
    assert response.status_code == 415
    assert message in response.json()["detail"]


def test_service_accepts_xml_charset(service: httpx.Client, smartdcc: Path) -> None:
    response = service.post(
        "/v1/cos-requests",
        content=request_bytes(smartdcc, counter=89),
        headers={"content-type": "text/xml; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.json()["decision"] == "TCOS_PARTY"
