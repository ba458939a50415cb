"""The routing HTTP service: SRV 6.23 requests in, routing decisions out, outcomes recorded.

``create_app`` builds the FastAPI application over the same functions as the command line.
``create_app_from_environment`` is the factory ``ecos-migration serve`` hands to uvicorn, so
each worker process builds its own application from the same environment variables.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.requests import ClientDisconnect

from ecos_migration.clock import Clock, SystemClock
from ecos_migration.config import CONFIG_VARIABLE, Settings, load_settings
from ecos_migration.errors import ConfigurationError, NotFoundError, StateError
from ecos_migration.routing.codes import RejectedRequestError, Route, RouteReason
from ecos_migration.routing.decision import RoutingPolicy
from ecos_migration.routing.environment import (
    MAX_REQUEST_BYTES_VARIABLE,
    PARTIES_VARIABLE,
    SCHEMA_VARIABLE,
    TRUST_STORE_VARIABLE,
)
from ecos_migration.routing.parties import Parties
from ecos_migration.routing.router import RequestChecker, RoutedRequest, route_documents
from ecos_migration.routing.schema import require_schema_path
from ecos_migration.routing.trust import TrustStore
from ecos_migration.store.database import (
    DATABASE_URL_VARIABLE,
    create_database_engine,
    require_current_schema,
)
from ecos_migration.store.routing import record_outcome

logger = logging.getLogger(__name__)


class Decision(BaseModel):
    """The routing decision for one request."""

    request_id: str | None = Field(description="RequestID of the request, when it was readable")
    device_id: str | None = Field(description="Target device (EUI-64), when it was readable")
    decision: Route
    reason: RouteReason | None = Field(description="Why the request was held or rejected")
    retry_after: int | None = Field(
        default=None, description="Seconds to wait before sending a held request again"
    )
    detail: str = Field(description="What was decided and what the sender can do about it")
    replay: bool = Field(
        default=False,
        description="Whether the RequestID was already forwarded: the earlier decision is "
        "returned and the request is not forwarded again",
    )


class OutcomeReport(BaseModel):
    """The outcome of a forwarded request as the processing party reported it."""

    outcome: Literal["SUCCESS", "FAILURE"]


class OutcomeRecorded(BaseModel):
    """The changes made by recording an outcome."""

    request_id: str
    device_id: str
    status: str
    evidence_recorded: bool = Field(
        description="Whether SRV 6.23 evidence was recorded for the device's Device Model"
    )


def _decision_response(
    routed: RoutedRequest, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if routed.decision.retry_after_seconds is not None:
        headers["Retry-After"] = str(routed.decision.retry_after_seconds)
    return JSONResponse(routed.to_json(), status_code=status_code, headers=headers)


# Media types of a DUIS request; a request without Content-Type is read as XML too.
XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
# The service decodes no Content-Encoding; "identity" means none.
IDENTITY_ENCODINGS = frozenset({"", "identity"})


def _transport_problem(request: Request, max_bytes: int) -> JSONResponse | None:
    """Return the 413 or 415 response that the headers alone call for, or ``None``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        rejection = RejectedRequestError(
            RouteReason.MALFORMED_XML,
            f"the request declares {declared} bytes, over the limit of {max_bytes} bytes",
        )
        routed = RoutedRequest(None, None, rejection.decision(), "DECIDED")
        # The body is never read, so the connection cannot carry another request.
        return _decision_response(routed, 413, {"Connection": "close"})
    content_type = request.headers.get("content-type")
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in XML_MEDIA_TYPES:
            return _unsupported(
                f"Content-Type {media_type!r} is not XML: send the signed DUIS request as "
                "application/xml or text/xml",
            )
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in IDENTITY_ENCODINGS:
        return _unsupported(
            f"Content-Encoding {encoding!r} is not decoded by this service: send the request "
            "without a Content-Encoding",
        )
    return None


def _unsupported(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=415, headers={"Connection": "close"})


async def _read_body(request: Request, max_bytes: int) -> bytes | None:
    """Return the body, or ``None`` as soon as it grows past ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _GroupRouter:
    """Route waiting requests together, one batch at a time, in one transaction per batch.

    Each request still gets its own checks and decision. Only the device lookup and the commit
    are shared, which is most of a single request's cost on SQLite. Batches run in one
    dedicated thread, so the event loop keeps reading requests meanwhile, and those form the
    next batch: the busier the service, the larger the batches, with no added wait when idle.
    One thread means the checker, whose lxml schema object keeps its error log, is never used
    from two threads at once.
    """

    def __init__(self, route_batch: Callable[[list[bytes]], list[RoutedRequest]]) -> None:
        self._route_batch = route_batch
        self._waiting: list[tuple[bytes, asyncio.Future[RoutedRequest]]] = []
        self._running = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="routing")

    async def route(self, body: bytes) -> RoutedRequest:
        """Return the decision for ``body`` once its batch is routed and recorded."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RoutedRequest] = loop.create_future()
        self._waiting.append((body, future))
        if not self._running:
            self._running = True
            # Start on the next loop turn, so requests read in this turn join the batch.
            loop.call_soon(self._start, loop)
        return await future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, []
        done = loop.run_in_executor(
            self._executor, self._route_batch, [body for body, _ in waiting]
        )
        done.add_done_callback(functools.partial(self._finish, loop, waiting))

    def _finish(
        self,
        loop: asyncio.AbstractEventLoop,
        waiting: list[tuple[bytes, asyncio.Future[RoutedRequest]]],
        done: asyncio.Future[list[RoutedRequest]],
    ) -> None:
        exc = done.exception()
        if exc is not None:
            logger.error(
                "Routing a batch of %d requests failed; each gets an error.",
                len(waiting),
                exc_info=exc,
                extra={"batch_size": len(waiting)},
            )
            for _, future in waiting:
                if not future.cancelled():
                    future.set_exception(exc)
        else:
            for (_, future), item in zip(waiting, done.result(), strict=True):
                # A client that disconnected has cancelled its future; its decision is recorded.
                if not future.cancelled():
                    future.set_result(item)
        if self._waiting:
            self._start(loop)
        else:
            self._running = False

    def close(self) -> None:
        """Stop the routing thread once the batch in progress is done."""
        self._executor.shutdown(wait=True)


def create_app(
    engine: Engine,
    checker: RequestChecker,
    settings: Settings,
    clock: Clock | None = None,
) -> FastAPI:
    """Build the routing service over ``engine`` with the given checks and settings."""
    service_clock = clock or SystemClock()
    in_scope = frozenset(settings.eligibility.in_scope_device_types)
    eligibility_policy = settings.eligibility.policy()
    max_bytes = checker.policy.max_request_bytes

    def route_batch(bodies: list[bytes]) -> list[RoutedRequest]:
        return route_documents(
            engine,
            checker,
            bodies,
            at=service_clock.now(),
            in_scope_device_types=in_scope,
            eligibility_policy=eligibility_policy,
        )

    group = _GroupRouter(route_batch)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        group.close()

    app = FastAPI(
        title="ecos-migration CoS request routing",
        version="1",
        description="Routes DUIS SRV 6.23 CoS Update Security Credentials requests to the "
        "party whose certificate the target device holds, during the ECoS migration.",
        lifespan=lifespan,
    )

    # The handlers are coroutines: they read the request on the event loop and leave the
    # checks and the transaction to the group's routing thread. Scale out with more workers.
    @app.post(
        "/v1/cos-requests",
        response_model=Decision,
        responses={
            413: {"model": Decision, "description": "The request is over the size limit"},
            415: {"description": "The Content-Type is not XML or the body is encoded"},
        },
        summary="Route one DUIS request (the signed XML as the body)",
    )
    async def route_cos_request(request: Request) -> Response:
        problem = _transport_problem(request, max_bytes)
        if problem is not None:
            return problem
        try:
            body = await _read_body(request, max_bytes)
        except ClientDisconnect:
            logger.warning(
                "Client disconnected before sending the whole body of %s; nothing was routed.",
                request.url.path,
                extra={"path": request.url.path},
            )
            # The client is gone, so this response is never sent; returning it ends the
            # request without a traceback.
            return Response(status_code=400)
        if body is None:
            rejection = RejectedRequestError(
                RouteReason.MALFORMED_XML, f"the request is over the limit of {max_bytes} bytes"
            )
            routed = RoutedRequest(None, None, rejection.decision(), "DECIDED")
            return _decision_response(routed, 413)
        return _decision_response(await group.route(body))

    @app.post(
        "/v1/cos-requests/{request_id}/outcome",
        response_model=OutcomeRecorded,
        responses={
            404: {"description": "No forwarded request has this RequestID"},
            409: {"description": "The request already has an outcome"},
        },
        summary="Record the outcome of a forwarded request",
    )
    async def report_outcome(request_id: str, report: OutcomeReport) -> Any:
        now = service_clock.now()
        try:
            with engine.begin() as connection:
                result = record_outcome(
                    connection,
                    request_id,
                    succeeded=report.outcome == "SUCCESS",
                    on=now.date(),
                    now=now,
                    policy=eligibility_policy,
                )
        except (NotFoundError, StateError) as exc:
            status_code = 404 if isinstance(exc, NotFoundError) else 409
            logger.warning(
                "Outcome for CoS request %s not recorded: %s",
                request_id,
                exc,
                extra={"request_id": request_id},
            )
            return JSONResponse({"detail": str(exc)}, status_code=status_code)
        return OutcomeRecorded(
            request_id=result.request_id,
            device_id=result.device_id,
            status=result.status,
            evidence_recorded=result.evidence_recorded,
        )

    return app


def checker_from_paths(
    schema: Path | None,
    trust_store: Path | None,
    parties: Path | None,
    max_request_bytes: int | None = None,
) -> RequestChecker:
    """Build the request checks from configured paths; raise ``ConfigurationError`` if missing."""
    if trust_store is None:
        raise ConfigurationError(
            "no trust store configured: give a folder of PEM organisation certificates "
            f"with --trust-store or {TRUST_STORE_VARIABLE}"
        )
    if parties is None:
        raise ConfigurationError(
            "no parties file configured: give a CSV of party_id,name,user_roles "
            f"with --parties or {PARTIES_VARIABLE}"
        )
    policy = RoutingPolicy()
    if max_request_bytes is not None:
        policy = RoutingPolicy(max_request_bytes=max_request_bytes)
    return RequestChecker(
        require_schema_path(schema),
        TrustStore.from_folder(trust_store),
        Parties.from_csv(parties),
        policy,
    )


def _path(variable: str) -> Path | None:
    value = os.environ.get(variable)
    return Path(value) if value else None


def create_app_from_environment() -> FastAPI:
    """Build the service from ``ECOS_MIGRATION_*`` environment variables (uvicorn factory)."""
    max_bytes = os.environ.get(MAX_REQUEST_BYTES_VARIABLE)
    checker = checker_from_paths(
        _path(SCHEMA_VARIABLE),
        _path(TRUST_STORE_VARIABLE),
        _path(PARTIES_VARIABLE),
        int(max_bytes) if max_bytes else None,
    )
    engine = create_database_engine(os.environ.get(DATABASE_URL_VARIABLE))
    require_current_schema(engine)
    settings = load_settings(_path(CONFIG_VARIABLE))
    logger.info(
        "Routing service ready on %s with %d trusted certificates.",
        engine.url,
        len(checker.trust_store),
        extra={"database": str(engine.url)},
    )
    return create_app(engine, checker, settings)
