"""Safe DUIS parsing, schema validation and reading of the 6.23 fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from ecos_migration.errors import ConfigurationError
from ecos_migration.routing.codes import RejectedRequestError, RouteReason
from ecos_migration.routing.duis import (
    parse_document,
    parse_xml_datetime,
    read_cos_request,
    read_header,
    require_cos_request,
)
from ecos_migration.routing.schema import load_schema, require_schema_path, validate
from routing_support import CANCELLATION, FUTURE_DATED, IMMEDIATE, SUPPLIER_BY_SUPPLIER, schema_path


def _reason(error: pytest.ExceptionInfo[RejectedRequestError]) -> RouteReason:
    return error.value.reason


def test_xxe_sample_is_unsafe(smartdcc: Path) -> None:
    data = (smartdcc / "duis" / "signed" / "duis-xxe.xml").read_bytes()
    with pytest.raises(RejectedRequestError) as error:
        parse_document(data)
    assert _reason(error) is RouteReason.UNSAFE_XML


def test_internal_entity_is_unsafe() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><a>&x;</a>'
    with pytest.raises(RejectedRequestError) as error:
        parse_document(data)
    assert _reason(error) is RouteReason.UNSAFE_XML


def test_utf16_doctype_is_unsafe() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16")
    with pytest.raises(RejectedRequestError) as error:
        parse_document(data)
    assert _reason(error) is RouteReason.UNSAFE_XML


@pytest.mark.parametrize("data", [b"", b"not xml", b"<a>", b"<a></b>", b"\xff\xfe\x00"])
def test_not_xml_is_malformed(data: bytes) -> None:
    with pytest.raises(RejectedRequestError) as error:
        parse_document(data)
    assert _reason(error) is RouteReason.MALFORMED_XML


def test_oversized_request_is_malformed() -> None:
    with pytest.raises(RejectedRequestError) as error:
        parse_document(b"<a>" + b" " * 100 + b"</a>", max_bytes=50)
    assert _reason(error) is RouteReason.MALFORMED_XML
    assert "over the limit of 50 bytes" in error.value.detail


@pytest.mark.parametrize("template", [IMMEDIATE, FUTURE_DATED, CANCELLATION, SUPPLIER_BY_SUPPLIER])
def test_templates_are_schema_valid(smartdcc: Path, template: str) -> None:
    root = parse_document((smartdcc / "duis" / "requests" / template).read_bytes())
    validate(load_schema(schema_path(smartdcc)), root)


def test_schema_is_compiled_once(smartdcc: Path) -> None:
    assert load_schema(schema_path(smartdcc)) is load_schema(schema_path(smartdcc))


def test_schema_invalid_request(smartdcc: Path) -> None:
    data = (smartdcc / "duis" / "requests" / IMMEDIATE).read_bytes()
    data = data.replace(b"<sr:CommandVariant>1</sr:CommandVariant>", b"")
    with pytest.raises(RejectedRequestError) as error:
        validate(load_schema(schema_path(smartdcc)), parse_document(data))
    assert _reason(error) is RouteReason.SCHEMA_INVALID
    assert "ServiceReference" in error.value.detail or "CommandVariant" in error.value.detail


def test_missing_schema_says_how_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--schema or ECOS_MIGRATION_DUIS_SCHEMA"):
        require_schema_path(None)
    with pytest.raises(ConfigurationError, match="not found"):
        load_schema(tmp_path / "absent.xsd")


def test_schema_imports_stay_local(smartdcc: Path, tmp_path: Path) -> None:
    main = tmp_path / "main schema.xsd"
    main.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        '<xs:import namespace="urn:x" schemaLocation="http://127.0.0.1:9/absent.xsd"/>'
        '<xs:element name="a"/></xs:schema>',
        encoding="utf-8",
    )
    with pytest.raises(ConfigurationError, match="does not compile"):
        load_schema(main)


def test_read_future_dated_request(smartdcc: Path) -> None:
    root = parse_document((smartdcc / "duis" / "requests" / FUTURE_DATED).read_bytes())
    header = read_header(root)
    request = read_cos_request(root, header)
    assert request.originator == "90B3D51F30010000"
    assert request.device_id == "00DB1234567890A0"
    assert request.execution_at == datetime(2030, 1, 2, tzinfo=UTC)
    assert request.is_future_dated(datetime(2026, 1, 1, tzinfo=UTC))
    assert not request.is_future_dated(datetime(2030, 1, 3, tzinfo=UTC))
    assert not request.is_cancellation


def test_read_cancellation(smartdcc: Path) -> None:
    root = parse_document((smartdcc / "duis" / "requests" / CANCELLATION).read_bytes())
    request = read_cos_request(root, read_header(root))
    assert request.is_cancellation
    assert not request.is_future_dated(datetime(2026, 1, 1, tzinfo=UTC))


def test_read_immediate_request(smartdcc: Path) -> None:
    root = parse_document((smartdcc / "duis" / "requests" / IMMEDIATE).read_bytes())
    request = read_cos_request(root, read_header(root))
    assert request.execution_at is None
    assert not request.is_future_dated(datetime(2026, 1, 1, tzinfo=UTC))


def test_other_service_is_not_cos(smartdcc: Path) -> None:
    root = parse_document((smartdcc / "duis" / "requests" / SUPPLIER_BY_SUPPLIER).read_bytes())
    header = read_header(root)
    with pytest.raises(RejectedRequestError) as error:
        require_cos_request(header)
    assert _reason(error) is RouteReason.NOT_A_COS_REQUEST


def test_response_is_not_cos(smartdcc: Path) -> None:
    root = parse_document((smartdcc / "duis" / "signed" / "message.xml").read_bytes())
    with pytest.raises(RejectedRequestError) as error:
        read_header(root)
    assert _reason(error) is RouteReason.NOT_A_COS_REQUEST


def test_xml_datetime_forms() -> None:
    assert parse_xml_datetime("2030-01-02T00:00:00.00Z") == datetime(2030, 1, 2, tzinfo=UTC)
    assert parse_xml_datetime("2030-01-02T00:00:00") == datetime(2030, 1, 2, tzinfo=UTC)
    with pytest.raises(RejectedRequestError):
        parse_xml_datetime("0000-01-01T00:00:00Z")


def test_parser_never_reads_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET", encoding="utf-8")
    data = f'<!DOCTYPE a [<!ENTITY x SYSTEM "{secret.as_uri()}">]><a>&x;</a>'.encode()
    with pytest.raises(RejectedRequestError):
        parse_document(data)
    # Even past the DOCTYPE check the parser itself would not expand the entity.
    from ecos_migration.routing import duis

    root = etree.fromstring(data, duis._PARSER)
    assert b"SECRET" not in etree.tostring(root)
