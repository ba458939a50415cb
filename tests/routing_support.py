"""Helpers of the routing tests: signed requests, a trust store, a parties file, devices.

Everything is built in the test's temporary folder from DCC's public test keys and
certificates; nothing is copied into the repository.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine, update

from ecos_migration.domain.device import (
    Credential,
    DeviceModelKey,
    DeviceType,
    Generation,
    MigrationState,
    SmiStatus,
)
from ecos_migration.domain.eligibility import EligibilityPolicy
from ecos_migration.routing.duis import SR_NAMESPACE, parse_document
from ecos_migration.routing.signature import load_certificate, load_private_key, sign_document
from ecos_migration.store.devices import DeviceRecord, upsert_devices
from ecos_migration.store.schema import device

SUPPLIER = "90B3D51F30010000"
NETWORK_OPERATOR = "90B3D51F30020000"
OTHER_USER = "00DB123456780004"
DSP = "90B3D51F30000002"

IMMEDIATE = "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"
FUTURE_DATED = "CS02bSupplierByTransCoS_6.23_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML"
CANCELLATION = "CS02bSupplierByTransCoS_6.23_CANCELLATION_SUCCESS_REQUEST_DUIS.XML"
SUPPLIER_BY_SUPPLIER = "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML"

# Inside the validity of the XML-signing certificates (2018-01-01 to 2118-01-01).
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = AT.date()

TCOS_DEVICE = "00DB1234567890A0"
ECOS_DEVICE = "00DB1234567890A1"
UNKNOWN_CREDENTIAL_DEVICE = "00DB1234567890A2"
MIGRATING_DEVICE = "00DB1234567890A3"
SMETS1_DEVICE = "00DB1234567890A4"
HUB_DEVICE = "00DB1234567890A5"
ABSENT_DEVICE = "00DB1234567890FF"

MODEL = DeviceModelKey(DeviceType.ESME, "AB01", "010A030B", "0002012F")


def duis_folder(smartdcc: Path) -> Path:
    """Folder of the DUIS test data."""
    return smartdcc / "duis"


def schema_path(smartdcc: Path) -> Path:
    """The official DUIS schema of the test data."""
    return smartdcc / "duis" / "xsd" / "DUIS Schema V5.4.xsd"


def key_paths(smartdcc: Path, party: str, prefix: str = "xml-sign") -> tuple[Path, Path]:
    """The DER private key and PEM certificate of a test party."""
    keys = smartdcc / "duis" / "keys"
    return keys / f"{prefix}-{party}-ds.key", keys / f"{prefix}-{party}-ds.pem"


def make_trust_store(smartdcc: Path, folder: Path) -> Path:
    """Build a trust store folder holding every public test certificate."""
    folder.mkdir(parents=True, exist_ok=True)
    for certificate in (smartdcc / "duis" / "keys").glob("*.pem"):
        shutil.copy(certificate, folder / certificate.name)
    return folder


def make_parties(path: Path) -> Path:
    """Write a parties file: the test supplier (IS GS) and the network operator (ED)."""
    path.write_text(
        "party_id,name,user_roles\n"
        f"{SUPPLIER},Test supplier,IS GS\n"
        f"{NETWORK_OPERATOR},Test network operator,ED\n",
        encoding="utf-8",
    )
    return path


def duis_id(device_id: str) -> str:
    """The DUIS form of a canonical EUI-64."""
    return "-".join(device_id[i : i + 2] for i in range(0, 16, 2))


def request_bytes(
    smartdcc: Path,
    template: str = IMMEDIATE,
    *,
    device_id: str = TCOS_DEVICE,
    originator: str = SUPPLIER,
    counter: int = 1006,
    signer: str | None = SUPPLIER,
    signer_prefix: str = "xml-sign",
) -> bytes:
    """Return a template with its RequestID set and signed by ``signer`` (unsigned if None)."""
    data = (smartdcc / "duis" / "requests" / template).read_bytes()
    root = parse_document(data)
    request_id = root.find(f"{{{SR_NAMESPACE}}}Header/{{{SR_NAMESPACE}}}RequestID")
    assert request_id is not None
    request_id.text = f"{duis_id(originator)}:{duis_id(device_id)}:{counter}"
    if signer is not None:
        key, certificate = key_paths(smartdcc, signer, signer_prefix)
        sign_document(
            root,
            load_private_key(key.read_bytes()),
            load_certificate(certificate.read_bytes()),
        )
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def _record(
    device_id: str,
    credential: Credential,
    *,
    device_type: DeviceType = DeviceType.ESME,
    generation: Generation = Generation.SMETS2,
) -> DeviceRecord:
    return DeviceRecord(
        id=device_id,
        device_type=device_type,
        generation=generation,
        smi_status=SmiStatus.COMMISSIONED,
        model_key=MODEL if device_type is DeviceType.ESME else None,
        supplier_id=SUPPLIER,
        commissioned_on=date(2024, 1, 10),
        credential=credential,
    )


def load_devices(engine: Engine) -> None:
    """Load one device for each routing case; the migrating one is set IN_PROGRESS."""
    records = [
        _record(TCOS_DEVICE, Credential.TCOS),
        _record(ECOS_DEVICE, Credential.ECOS),
        _record(UNKNOWN_CREDENTIAL_DEVICE, Credential.UNKNOWN),
        _record(MIGRATING_DEVICE, Credential.TCOS),
        _record(SMETS1_DEVICE, Credential.NOT_APPLICABLE, generation=Generation.SMETS1),
        _record(HUB_DEVICE, Credential.NOT_APPLICABLE, device_type=DeviceType.CHF),
    ]
    with engine.begin() as connection:
        upsert_devices(connection, records, on=TODAY, now=AT, seed=7, policy=EligibilityPolicy())
        # The engine sets this state when it starts an attempt; the test sets it directly.
        connection.execute(
            update(device)
            .where(device.c.id == MIGRATING_DEVICE)
            .values(migration_state=MigrationState.IN_PROGRESS.value)
        )


def case_documents(smartdcc: Path) -> dict[str, tuple[bytes, str, str | None]]:
    """Requests for every route and reason, by file name, with the expected decision."""
    signed = smartdcc / "duis" / "signed"
    tampered = request_bytes(smartdcc, counter=9).replace(b"1312345678333", b"1312345678334")
    return {
        "tcos.xml": (request_bytes(smartdcc, counter=1), "TCOS_PARTY", None),
        "ecos.xml": (request_bytes(smartdcc, device_id=ECOS_DEVICE, counter=2), "ECOS_PARTY", None),
        "unknown-credential.xml": (
            request_bytes(smartdcc, device_id=UNKNOWN_CREDENTIAL_DEVICE, counter=3),
            "HOLD",
            "CREDENTIAL_UNKNOWN",
        ),
        "migrating.xml": (
            request_bytes(smartdcc, device_id=MIGRATING_DEVICE, counter=4),
            "HOLD",
            "MIGRATION_IN_PROGRESS",
        ),
        "smets1.xml": (
            request_bytes(smartdcc, device_id=SMETS1_DEVICE, counter=5),
            "SMETS1_SERVICE_PROVIDER",
            None,
        ),
        "hub.xml": (
            request_bytes(smartdcc, device_id=HUB_DEVICE, counter=6),
            "REJECT",
            "OUT_OF_SCOPE_DEVICE_TYPE",
        ),
        "absent.xml": (
            request_bytes(smartdcc, device_id=ABSENT_DEVICE, counter=7),
            "REJECT",
            "DEVICE_UNKNOWN",
        ),
        "future.xml": (
            request_bytes(smartdcc, FUTURE_DATED, device_id=ECOS_DEVICE, counter=8),
            "ECOS_PARTY",
            None,
        ),
        "tampered.xml": (tampered, "REJECT", "SIGNATURE_INVALID"),
        "placeholder.xml": (request_bytes(smartdcc, signer=None), "REJECT", "SIGNER_UNKNOWN"),
        "other-user.xml": (
            request_bytes(smartdcc, signer=OTHER_USER, counter=10),
            "REJECT",
            "SIGNER_NOT_ORIGINATOR",
        ),
        "operator.xml": (
            request_bytes(smartdcc, originator=NETWORK_OPERATOR, signer=NETWORK_OPERATOR),
            "REJECT",
            "ORIGINATOR_NOT_SUPPLIER",
        ),
        "supplier-by-supplier.xml": (
            request_bytes(smartdcc, SUPPLIER_BY_SUPPLIER, counter=11),
            "REJECT",
            "NOT_A_COS_REQUEST",
        ),
        "xxe.xml": ((signed / "duis-xxe.xml").read_bytes(), "REJECT", "UNSAFE_XML"),
        "broken.xml": (b"<sr:Request", "REJECT", "MALFORMED_XML"),
        "invalid.xml": (b"<Request/>", "REJECT", "SCHEMA_INVALID"),
        "response.xml": ((signed / "message.xml").read_bytes(), "REJECT", "NOT_A_COS_REQUEST"),
    }


def unsigned_request(smartdcc: Path) -> bytes:
    """The immediate template with its placeholder signature removed."""
    root = parse_document(request_bytes(smartdcc, signer=None))
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
