"""Commands of the routing area: route, route-outcome, serve and duis sign."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ecos_migration.cli.context import app_context
from ecos_migration.errors import InputError
from ecos_migration.routing.environment import (
    DEFAULT_MAX_REQUEST_BYTES,
    MAX_REQUEST_BYTES_VARIABLE,
    PARTIES_VARIABLE,
    SCHEMA_VARIABLE,
    TRUST_STORE_VARIABLE,
)
from ecos_migration.store.database import DATABASE_URL_VARIABLE

SchemaOption = Annotated[
    Path | None,
    typer.Option(
        "--schema",
        envvar=SCHEMA_VARIABLE,
        help="Path of the official DUIS XML schema ('DUIS Schema V5.4.xsd'); its imports are "
        "read from the same folder.",
        dir_okay=False,
    ),
]
TrustStoreOption = Annotated[
    Path | None,
    typer.Option(
        "--trust-store",
        envvar=TRUST_STORE_VARIABLE,
        help="Folder of PEM organisation certificates that may sign requests.",
        file_okay=False,
    ),
]
PartiesOption = Annotated[
    Path | None,
    typer.Option(
        "--parties",
        envvar=PARTIES_VARIABLE,
        help="CSV of registered parties: party_id (EUI-64), name, user_roles (e.g. 'IS GS').",
        dir_okay=False,
    ),
]
MaxBytesOption = Annotated[
    int,
    typer.Option(
        "--max-request-bytes",
        envvar=MAX_REQUEST_BYTES_VARIABLE,
        help="Largest request accepted, in bytes; larger ones are rejected as MALFORMED_XML.",
        min=1,
    ),
]


# Routing fewer requests than this finishes too fast for a progress bar to help.
PROGRESS_THRESHOLD = 200


class _RateColumn(ProgressColumn):
    """Requests checked per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} requests/s" if speed else "")


def _parse_at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"invalid --at {text!r}: expected an ISO 8601 date-time, e.g. 2030-01-01T12:00:00Z"
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def route(  # noqa: PLR0917 - Typer reads each parameter as an option
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="DUIS request files to route.", dir_okay=False)
    ],
    schema: SchemaOption = None,
    trust_store: TrustStoreOption = None,
    parties: PartiesOption = None,
    max_request_bytes: MaxBytesOption = DEFAULT_MAX_REQUEST_BYTES,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Time the requests are received and certificates are validated at "
            "(ISO 8601, UTC unless an offset is given; default: now).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decisions as JSON.")] = False,
) -> None:
    """Route SRV 6.23 CoS requests and record each decision; print one decision per file."""
    from ecos_migration.routing.router import route_documents
    from ecos_migration.service import checker_from_paths

    context = app_context(ctx)
    moment = _parse_at(at) if at is not None else context.clock.now()
    checker = checker_from_paths(schema, trust_store, parties, max_request_bytes)
    documents: list[bytes] = []
    for path in files:
        try:
            documents.append(path.read_bytes())
        except OSError as exc:
            raise InputError(f"cannot read request file {path}: {exc.strerror}") from exc
    settings = context.settings
    progress = Progress(
        TextColumn("checking requests"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        console=context.error_console,
        transient=True,
        disable=len(documents) < PROGRESS_THRESHOLD,
    )
    with progress:
        task = progress.add_task("check", total=len(documents))
        routed = route_documents(
            context.engine(),
            checker,
            documents,
            at=moment,
            in_scope_device_types=frozenset(settings.eligibility.in_scope_device_types),
            eligibility_policy=settings.eligibility.policy(),
            on_checked=lambda: progress.advance(task),
        )

    if as_json:
        context.print_json(
            [
                {"file": str(path), **item.to_json()}
                for path, item in zip(files, routed, strict=True)
            ]
        )
        return
    table = Table("file", "request id", "device", "decision", "reason", "retry after (s)")
    for path, item in zip(files, routed, strict=True):
        decision = item.decision
        table.add_row(
            path.name,
            item.request_id or "",
            item.device_id or "",
            decision.route.value,
            decision.reason.value if decision.reason else "",
            str(decision.retry_after_seconds or ""),
        )
    context.console.print(table)


def route_outcome(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="RequestID of a forwarded request.")],
    success: Annotated[
        bool,
        typer.Option("--success/--failure", help="Whether the processing party reported success."),
    ],
) -> None:
    """Record the outcome of a forwarded CoS request (a success feeds the migration)."""
    from ecos_migration.store.routing import record_outcome

    context = app_context(ctx)
    now = context.clock.now()
    with context.engine().begin() as connection:
        result = record_outcome(
            connection,
            request_id,
            succeeded=success,
            on=now.date(),
            now=now,
            policy=context.settings.eligibility.policy(),
        )
    message = f"CoS request {result.request_id} for device {result.device_id} is {result.status}"
    if result.evidence_recorded:
        message += "; SRV 6.23 evidence was recorded for its Device Model"
    context.console.print(message + ".")


def serve(  # noqa: PLR0917 - Typer reads each parameter as an option
    ctx: typer.Context,
    schema: SchemaOption = None,
    trust_store: TrustStoreOption = None,
    parties: PartiesOption = None,
    max_request_bytes: MaxBytesOption = DEFAULT_MAX_REQUEST_BYTES,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback unless changed).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.", min=1)] = 8623,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (one per core is typical).", min=1)
    ] = 1,
) -> None:
    """Start the HTTP routing service (OpenAPI description at /docs and /openapi.json)."""
    import uvicorn

    from ecos_migration.config import CONFIG_VARIABLE
    from ecos_migration.service import checker_from_paths

    context = app_context(ctx)
    # Fail here, with one line, rather than in every worker.
    checker_from_paths(schema, trust_store, parties, max_request_bytes)
    context.engine()
    variables = {
        SCHEMA_VARIABLE: schema,
        TRUST_STORE_VARIABLE: trust_store,
        PARTIES_VARIABLE: parties,
        MAX_REQUEST_BYTES_VARIABLE: max_request_bytes,
        DATABASE_URL_VARIABLE: context.database_url,
        CONFIG_VARIABLE: context.config_path,
    }
    for name, value in variables.items():
        if value is not None:
            os.environ[name] = str(value.resolve() if isinstance(value, Path) else value)
    uvicorn.run(
        "ecos_migration.service:create_app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
    )


duis_app = typer.Typer(help="Work with DUIS messages.", no_args_is_help=True)


@duis_app.command("sign")
def sign(
    file: Annotated[Path, typer.Argument(help="DUIS message to sign.", dir_okay=False)],
    key: Annotated[
        Path, typer.Option("--key", help="EC P-256 private key, PEM or DER PKCS#8.", dir_okay=False)
    ],
    cert: Annotated[
        Path, typer.Option("--cert", help="The key's certificate, PEM or DER.", dir_okay=False)
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the signed message here instead of printing it."),
    ] = None,
) -> None:
    """Sign a DUIS message as DCC's tools do, replacing any signature it carries."""
    from lxml import etree

    from ecos_migration.routing.codes import RejectedRequestError
    from ecos_migration.routing.duis import parse_document
    from ecos_migration.routing.signature import load_certificate, load_private_key, sign_document

    try:
        data = file.read_bytes()
        private_key = load_private_key(key.read_bytes())
        certificate = load_certificate(cert.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read {exc.filename}: {exc.strerror}") from exc

    try:
        root = parse_document(data, max_bytes=len(data))
    except RejectedRequestError as exc:
        raise InputError(f"cannot sign {file}: {exc.detail}") from exc
    sign_document(root, private_key, certificate)
    signed = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    if out is None:
        sys.stdout.buffer.write(signed)
        return
    try:
        out.write_bytes(signed)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from exc


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.command("route")(route)
    app.command("route-outcome")(route_outcome)
    app.command("serve")(serve)
    app.add_typer(duis_app, name="duis")
