"""Safe, strict reading of DUIS messages and of the fields routing needs from a 6.23 request.

The parser loads no DTD, expands no entity and opens no network connection. A document that
declares a DOCTYPE is rejected before parsing, because entity declarations, and so XML external
entity attacks, need one. libxml2's limits on huge documents stay on (``huge_tree`` off).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from ecos_migration.domain.device import canonical_device_id
from ecos_migration.routing.codes import RejectedRequestError, RouteReason
from ecos_migration.routing.environment import DEFAULT_MAX_REQUEST_BYTES
from ecos_migration.xml_safety import bytes_declare_dtd, tree_declares_dtd

SR_NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway"
DS_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
COS_SERVICE_REFERENCE = "6.23"

# A future-dated 6.23 is cancelled by sending the request again with this execution time,
# which is what the public cancellation template carries.
# NOTE: taken from the template; the DUIS text that defines the sentinel was not available here.
CANCELLATION_EXECUTION_AT = datetime(3000, 12, 31, tzinfo=UTC)

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=False,
    remove_pis=False,
)


def parse_document(data: bytes, max_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> etree._Element:
    """Parse a DUIS message and return its root element.

    Raises ``RejectedRequestError`` with MALFORMED_XML for a message over ``max_bytes`` or one that
    is not well-formed XML, and with UNSAFE_XML for one that declares a DOCTYPE or entities.
    """
    if len(data) > max_bytes:
        raise RejectedRequestError(
            RouteReason.MALFORMED_XML,
            f"the request is {len(data)} bytes, over the limit of {max_bytes} bytes",
        )
    if bytes_declare_dtd(data):
        raise RejectedRequestError(
            RouteReason.UNSAFE_XML,
            "the request declares a DOCTYPE or entities, which DUIS messages never carry",
        )
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise RejectedRequestError(
            RouteReason.MALFORMED_XML, f"the request is not XML: {exc}"
        ) from exc
    if tree_declares_dtd(root):
        # Reached only by encodings the byte scan above does not read.
        raise RejectedRequestError(RouteReason.UNSAFE_XML, "the request declares a DOCTYPE")
    return root


@dataclass(frozen=True, slots=True)
class CosRequest:
    """The routing fields of an SRV 6.23 request.

    ``originator`` and ``device_id`` are canonical EUI-64s taken from the RequestID
    (``originator:target:counter``); ``execution_at`` is the ExecutionDateTime, if any.
    """

    request_id: str
    originator: str
    device_id: str
    service_reference: str
    execution_at: datetime | None = None

    @property
    def is_cancellation(self) -> bool:
        """Whether this request cancels a future-dated request for the same device."""
        return self.execution_at == CANCELLATION_EXECUTION_AT

    def is_future_dated(self, at: datetime) -> bool:
        """Whether the request waits in the processing party until a later execution time."""
        return self.execution_at is not None and not self.is_cancellation and self.execution_at > at


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """RequestID and service reference of any DUIS request, read before the signature."""

    request_id: str
    originator: str
    device_id: str
    service_reference: str


def _sr(name: str) -> str:
    return f"{{{SR_NAMESPACE}}}{name}"


_REQUEST = _sr("Request")
_HEADER = _sr("Header")
_REQUEST_ID = _sr("RequestID")
_SERVICE_REFERENCE = _sr("ServiceReference")
_EXECUTION_DATE_TIME = (
    _sr("Body"),
    _sr("UpdateSecurityCredentialsCoS"),
    _sr("ExecutionDateTime"),
)


def find_child(element: etree._Element, *tags: str) -> etree._Element | None:
    """Return the first element at the path of child ``tags`` below ``element``, or ``None``.

    The same result as ``element.find("a/b")`` with Clark-notation tags, but the children are
    matched by lxml's C iterator. ElementPath's Python machinery cost more than the rest of
    reading a request's fields.
    """
    tag, rest = tags[0], tags[1:]
    for child in element.iterchildren(tag):
        if not rest:
            return child
        found = find_child(child, *rest)
        if found is not None:
            return found
    return None


def find_text(element: etree._Element, *tags: str) -> str | None:
    """Return the text of ``find_child(element, *tags)``, ``""`` if it has none, like findtext."""
    found = find_child(element, *tags)
    if found is None:
        return None
    return found.text or ""


def _text(root: etree._Element, path: tuple[str, ...]) -> str | None:
    value = find_text(root, *path)
    return value.strip() if value is not None else None


def read_header(root: etree._Element) -> RequestHeader:
    """Read the header of a schema-valid DUIS message.

    Raises ``RejectedRequestError`` with NOT_A_COS_REQUEST for a response or an alert.
    """
    if root.tag != _REQUEST:
        raise RejectedRequestError(
            RouteReason.NOT_A_COS_REQUEST,
            f"the message is a {etree.QName(root).localname}, not a Request",
        )
    request_id = _text(root, (_HEADER, _REQUEST_ID)) or ""
    service_reference = _text(root, (_HEADER, _SERVICE_REFERENCE)) or ""
    parts = request_id.split(":")
    if len(parts) != 3:
        raise RejectedRequestError(
            RouteReason.SCHEMA_INVALID,
            f"RequestID {request_id!r} is not originator:target:counter",
        )
    try:
        originator = canonical_device_id(parts[0])
        device_id = canonical_device_id(parts[1])
    except ValueError as exc:
        raise RejectedRequestError(RouteReason.SCHEMA_INVALID, str(exc)) from exc
    return RequestHeader(request_id, originator, device_id, service_reference)


def require_cos_request(header: RequestHeader) -> None:
    """Raise ``RejectedRequestError`` with NOT_A_COS_REQUEST unless the request is a 6.23."""
    if header.service_reference != COS_SERVICE_REFERENCE:
        raise RejectedRequestError(
            RouteReason.NOT_A_COS_REQUEST,
            f"service reference {header.service_reference!r} is not {COS_SERVICE_REFERENCE} "
            "(CoS Update Security Credentials)",
        )


def read_cos_request(root: etree._Element, header: RequestHeader) -> CosRequest:
    """Read the execution time of a 6.23 request whose header ``read_header`` accepted."""
    execution_text = _text(root, _EXECUTION_DATE_TIME)
    return CosRequest(
        request_id=header.request_id,
        originator=header.originator,
        device_id=header.device_id,
        service_reference=header.service_reference,
        execution_at=parse_xml_datetime(execution_text) if execution_text else None,
    )


def parse_xml_datetime(text: str) -> datetime:
    """Parse an ``xs:dateTime`` as an aware datetime; a value without offset is taken as UTC.

    Raises ``RejectedRequestError`` with SCHEMA_INVALID for a value Python cannot represent.
    """
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RejectedRequestError(
            RouteReason.SCHEMA_INVALID, f"invalid ExecutionDateTime {text!r}: {exc}"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
