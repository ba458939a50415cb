"""Streaming reader of DUIS 8.2 read-inventory responses (``DSPInventory``).

The XML parser is hardened: no DTD is loaded, no entity is resolved and no network access
is made, so a hostile file cannot read local files or reach other hosts. Each ``Device``
element is cleared once read, so memory does not grow with the file.

A DSPInventory response does not carry a device's CoS credential, supplier, last change of
supplier, communications status or, for a GPF, its communications hub. ``NOT_CARRIED`` lists
those fields. A new device gets them as unknown (credential UNKNOWN, no supplier, no hub,
communications OK) and a known device keeps its stored values. The same holds for the
optional ``ImportMPxN`` and ``DateCommissioned`` of a Device that lacks them.

The generation comes from ``SMETSCHTSVersion``: ``SMETS1 ...`` is SMETS1, ``SMETS2 ...`` is
SMETS2, and ``CHTS ...`` (a communications hub built to the CHTS) is SMETS2, because CHTS
hubs were introduced with SMETS2 and a SMETS1 installation has no CHTS hub. A device
without ``SMETSCHTSVersion`` is SMETS1 when the response names its SMETS1 Service Provider
(``S1SP``), and invalid otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

from lxml import etree

from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.errors import InputError
from ecos_migration.inventory.records import ParsedRow, RowCheck, build_record
from ecos_migration.xml_safety import UNSAFE_XML_MESSAGE, bytes_declare_dtd, tree_declares_dtd

NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway"
_DEVICE_TAG = f"{{{NAMESPACE}}}Device"
_INVENTORY_TAG = f"{{{NAMESPACE}}}DSPInventory"
DEVICE_PATH = "/Response/Body/ResponseMessage/DSPInventory/Device"
# Bytes read from the start of a file to look for a DOCTYPE, which must precede the root.
_PROLOG_SCAN_BYTES = 64 * 1024

# Children of a DSPInventory Device element, in schema order; the columns of a rejects file.
DUIS_DEVICE_ELEMENTS = (
    "DeviceID",
    "DeviceType",
    "DeviceStatus",
    "DeviceManufacturer",
    "DeviceModel",
    "SMETSCHTSVersion",
    "DeviceFirmwareVersion",
    "DeviceFirmwareVersionStatus",
    "CPLStatus",
    "DateCommissioned",
    "ImportMPxN",
    "SecondaryImportMPAN",
    "ExportMPAN",
    "ESMEVariant",
    "UPRN",
    "CSPRegion",
    "DeviceGBCSVersion",
    "HANVariant",
    "S1SP",
    "Connectivity",
)

NOT_CARRIED = frozenset(
    {"chf_id", "supplier_id", "last_change_of_supplier_on", "comms_status", "cos_credential"}
)

# DUIS element of each inventory field the response carries.
DUIS_ELEMENTS = {
    "device_id": "DeviceID",
    "device_type": "DeviceType",
    "smi_status": "DeviceStatus",
    "manufacturer": "DeviceManufacturer",
    "model": "DeviceModel",
    "firmware_version": "DeviceFirmwareVersion",
    "mpxn": "ImportMPxN",
    "commissioned_on": "DateCommissioned",
}


# Optional elements of a Device: when one is absent, a known device keeps its stored value.
_OPTIONAL_FIELDS = ("mpxn", "commissioned_on")


def _generation(check: RowCheck, children: dict[str, str]) -> str:
    version = children.get("SMETSCHTSVersion", "")
    upper = version.upper()
    if upper.startswith("SMETS1"):
        return "SMETS1"
    if upper.startswith(("SMETS2", "CHTS")):
        return "SMETS2"
    if not version and children.get("S1SP"):
        return "SMETS1"
    check.add(
        "SMETSCHTSVersion",
        version,
        "expected a version starting SMETS1, SMETS2 or CHTS (or an S1SP element)",
    )
    return ""


def _parser_options() -> dict[str, object]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }


def read_dsp_inventory(
    path: Path, policy: EligibilityPolicy, on: date | None = None
) -> Iterator[ParsedRow]:
    """Yield every ``Device`` element of a DSPInventory response, validated against ``on``.

    Raises ``InputError`` when the file is not well-formed XML, declares a DOCTYPE or
    entities, or contains no DSPInventory.
    """
    file = str(path)
    unsafe = InputError(
        f"{file}: the file {UNSAFE_XML_MESSAGE}; expected a DUIS 8.2 read-inventory response"
    )
    found_inventory = False
    checked = False
    index = 0
    try:
        # The byte scan gives the clear message before the parser can fail on what a
        # DOCTYPE declares. The parser's own record is checked at the first element, for
        # a prolog longer than the scanned bytes or in another encoding.
        with path.open("rb") as handle:
            if bytes_declare_dtd(handle.read(_PROLOG_SCAN_BYTES)):
                raise unsafe
        context = etree.iterparse(
            str(path), events=("end",), tag=(_DEVICE_TAG, _INVENTORY_TAG), **_parser_options()
        )
        for _event, element in context:
            if not checked:
                checked = True
                if tree_declares_dtd(element):
                    raise unsafe
            if element.tag == _INVENTORY_TAG:
                found_inventory = True
                continue
            index += 1
            yield _device_row(file, index, element, policy, on)
            element.clear(keep_tail=True)
            while element.getprevious() is not None:
                del element.getparent()[0]
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc}") from exc
    except etree.XMLSyntaxError as exc:
        raise InputError(
            f"{file}: line {exc.lineno}: invalid XML: {exc.msg}; "
            "expected a DUIS 8.2 read-inventory response"
        ) from exc
    if not found_inventory:
        raise InputError(
            f"{file}: no {DEVICE_PATH.rsplit('/', 1)[0]} element: expected a DUIS 8.2 "
            "read-inventory response (DSPInventory); use --format csv for a CSV file"
        )


def _device_row(
    file: str,
    index: int,
    element: etree._Element,
    policy: EligibilityPolicy,
    on: date | None,
) -> ParsedRow:
    # lxml-stubs types sourceline wrongly, so it is read untyped.
    line: int = getattr(element, "sourceline", None) or 0
    location = f"{DEVICE_PATH}[{index}] (line {line})"
    check = RowCheck(file, location)
    children: dict[str, str] = {}
    for child in element:
        if isinstance(child.tag, str):
            name = etree.QName(child).localname
            children[name] = (child.text or "").strip()
    generation = _generation(check, children)
    values = {field: children.get(name, "") for field, name in DUIS_ELEMENTS.items()}
    values["generation"] = generation
    for field in NOT_CARRIED:
        values[field] = ""
    record = build_record(check, values, policy, not_carried=NOT_CARRIED, on=on)
    # Name the XML element rather than the CSV column in every problem. The generation has
    # no element of its own: ``_generation`` already reported it under SMETSCHTSVersion.
    problems = [
        replace(problem, column=DUIS_ELEMENTS.get(problem.column or "", problem.column))
        for problem in check.problems
        if problem.column != "generation"
    ]
    absent = frozenset(field for field in _OPTIONAL_FIELDS if DUIS_ELEMENTS[field] not in children)
    return ParsedRow(
        location, line, record, problems, tuple(children.values()), tuple(children), absent
    )
