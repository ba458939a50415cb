"""XML Signature verification of real DUIS messages, signing, and the signer checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import XMLVerifier
from signxml.algorithms import DigestAlgorithm, SignatureMethod
from signxml.verifier import SignatureConfiguration

from ecos_migration.errors import InputError
from ecos_migration.routing.codes import RejectedRequestError, RouteReason
from ecos_migration.routing.duis import parse_document
from ecos_migration.routing.parties import Parties
from ecos_migration.routing.signature import (
    document_digest,
    load_private_key,
    verify_signature,
)
from ecos_migration.routing.trust import TrustStore, issuer_key, unique_identifier
from routing_support import (
    AT,
    DSP,
    NETWORK_OPERATOR,
    OTHER_USER,
    SUPPLIER,
    key_paths,
    make_parties,
    request_bytes,
)

SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"
VERIFYING_SAMPLES = [
    "message.xml",
    "ECS52_11.2_SUCCESS_RESPONSE_DUIS.XML",
    "read-inventory-response-4g.xml",
    "readfw-response.xml",
]


@pytest.fixture(scope="module")
def trust_store(smartdcc: Path) -> TrustStore:
    return TrustStore.from_folder(smartdcc / "duis" / "keys")


def _reason(error: pytest.ExceptionInfo[RejectedRequestError]) -> RouteReason:
    return error.value.reason


@pytest.mark.parametrize("name", VERIFYING_SAMPLES)
def test_real_signed_samples_verify(smartdcc: Path, trust_store: TrustStore, name: str) -> None:
    root = parse_document((smartdcc / "duis" / "signed" / name).read_bytes())
    before = etree.tostring(root)
    signer = verify_signature(root, trust_store)
    assert signer.certificate.serial_number > 0
    assert etree.tostring(root) == before


def test_bad_signature_sample_fails(smartdcc: Path, trust_store: TrustStore) -> None:
    data = (smartdcc / "duis" / "signed" / "readfw-response-badsignature.xml").read_bytes()
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(parse_document(data), trust_store)
    assert _reason(error) is RouteReason.SIGNATURE_INVALID


def test_sign_then_verify(smartdcc: Path, trust_store: TrustStore) -> None:
    root = parse_document(request_bytes(smartdcc))
    signer = verify_signature(root, trust_store)
    assert unique_identifier(signer.certificate) == SUPPLIER
    signer.check(AT, SUPPLIER)


def test_signature_verifies_with_signxml(smartdcc: Path) -> None:
    _, certificate = key_paths(smartdcc, SUPPLIER)
    config = SignatureConfiguration(
        signature_methods=frozenset({SignatureMethod.ECDSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        verification_time=AT,
    )
    result = XMLVerifier().verify(
        request_bytes(smartdcc), x509_cert=certificate.read_text(), expect_config=config
    )
    assert result.signed_xml is not None


def test_signature_matches_dcc_structure(smartdcc: Path) -> None:
    root = parse_document(request_bytes(smartdcc))
    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#"}
    reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", ns)
    assert reference is not None
    assert reference.get("URI") == ""
    transforms = reference.findall("ds:Transforms/ds:Transform", ns)
    assert [t.get("Algorithm") for t in transforms] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
    ]
    assert (
        root.findtext(
            "ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509IssuerSerial/ds:X509IssuerName",
            namespaces=ns,
        )
        == "CN=Z1,OU=07"
    )
    assert len(root.findall("ds:Signature", ns)) == 1


def test_tampered_request_fails(smartdcc: Path, trust_store: TrustStore) -> None:
    data = request_bytes(smartdcc).replace(b"1312345678333", b"1312345678334")
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(parse_document(data), trust_store)
    assert _reason(error) is RouteReason.SIGNATURE_INVALID
    assert "digest" in error.value.detail


def test_tampered_signed_info_fails(smartdcc: Path, trust_store: TrustStore) -> None:
    root = parse_document(request_bytes(smartdcc))
    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#"}
    value = root.find("ds:Signature/ds:SignatureValue", ns)
    assert value is not None and value.text is not None
    value.text = ("B" if value.text[0] == "A" else "A") + value.text[1:]
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(root, trust_store)
    assert _reason(error) is RouteReason.SIGNATURE_INVALID


def test_unsigned_request_is_missing(smartdcc: Path, trust_store: TrustStore) -> None:
    root = parse_document(request_bytes(smartdcc, signer=None))
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(root, trust_store)
    assert _reason(error) is RouteReason.SIGNATURE_MISSING


def test_placeholder_signer_is_unknown(smartdcc: Path, trust_store: TrustStore) -> None:
    root = parse_document(request_bytes(smartdcc, signer=None))
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(root, trust_store)
    assert _reason(error) is RouteReason.SIGNER_UNKNOWN


def test_signer_missing_from_trust_store(smartdcc: Path, tmp_path: Path) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    _, other = key_paths(smartdcc, NETWORK_OPERATOR)
    (folder / "other.pem").write_bytes(other.read_bytes())
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(parse_document(request_bytes(smartdcc)), TrustStore.from_folder(folder))
    assert _reason(error) is RouteReason.SIGNER_UNKNOWN


@pytest.mark.parametrize(
    "at",
    [datetime(2017, 12, 31, 23, 59, tzinfo=UTC), datetime(2118, 1, 1, 0, 0, 1, tzinfo=UTC)],
)
def test_certificate_outside_validity(
    smartdcc: Path, trust_store: TrustStore, at: datetime
) -> None:
    signer = verify_signature(parse_document(request_bytes(smartdcc)), trust_store)
    with pytest.raises(RejectedRequestError) as error:
        signer.check(at, SUPPLIER)
    assert _reason(error) is RouteReason.SIGNER_CERTIFICATE_NOT_VALID


def test_expired_organisation_certificate(smartdcc: Path, trust_store: TrustStore) -> None:
    # The access control broker's certificate ran from 2015-10-30 to 2025-10-29.
    root = parse_document((smartdcc / "duis" / "signed" / "message.xml").read_bytes())
    signer = verify_signature(root, trust_store)
    with pytest.raises(RejectedRequestError) as error:
        signer.check(datetime(2025, 10, 30, tzinfo=UTC), DSP)
    assert _reason(error) is RouteReason.SIGNER_CERTIFICATE_NOT_VALID


def test_non_xml_signing_certificate(smartdcc: Path, trust_store: TrustStore) -> None:
    data = request_bytes(smartdcc, originator=DSP, signer=DSP, signer_prefix="dsp-xml-sign")
    signer = verify_signature(parse_document(data), trust_store)
    with pytest.raises(RejectedRequestError) as error:
        signer.check(AT, DSP)
    assert _reason(error) is RouteReason.SIGNER_CERTIFICATE_NOT_VALID
    assert "OU 87" in error.value.detail


def test_signer_not_originator(smartdcc: Path, trust_store: TrustStore) -> None:
    signer = verify_signature(
        parse_document(request_bytes(smartdcc, signer=OTHER_USER)), trust_store
    )
    with pytest.raises(RejectedRequestError) as error:
        signer.check(AT, SUPPLIER)
    assert _reason(error) is RouteReason.SIGNER_NOT_ORIGINATOR


def test_parties_require_importing_supplier(tmp_path: Path) -> None:
    parties = Parties.from_csv(make_parties(tmp_path / "parties.csv"))
    assert parties.require_importing_supplier(SUPPLIER).name == "Test supplier"
    for originator in (NETWORK_OPERATOR, OTHER_USER):
        with pytest.raises(RejectedRequestError) as error:
            parties.require_importing_supplier(originator)
        assert _reason(error) is RouteReason.ORIGINATOR_NOT_SUPPLIER


def test_issuer_key_ignores_order_and_spaces() -> None:
    assert issuer_key("CN=Z1,OU=07") == issuer_key("OU=07, CN=Z1")
    assert issuer_key("CN=Z1,OU=07") != issuer_key("CN=U1, OU=07")


def test_key_loads_from_der_and_pem(smartdcc: Path) -> None:
    key_path, _ = key_paths(smartdcc, SUPPLIER)
    der_key = load_private_key(key_path.read_bytes())
    pem = der_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert load_private_key(pem).private_numbers() == der_key.private_numbers()
    with pytest.raises(InputError, match="PKCS#8"):
        load_private_key(b"not a key")


@pytest.mark.parametrize("name", [*VERIFYING_SAMPLES, "readfw-response-badsignature.xml"])
def test_detached_digest_equals_copied(smartdcc: Path, name: str) -> None:
    data = (smartdcc / "duis" / "signed" / name).read_bytes()
    copied_root = parse_document(data)
    copied = document_digest(copied_root, copied_root.find(SIGNATURE))
    detached_root = parse_document(data)
    detached = document_digest(detached_root, detached_root.find(SIGNATURE), detach=True)
    assert detached == copied
    assert detached_root.find(SIGNATURE) is None


@pytest.mark.parametrize("name", VERIFYING_SAMPLES)
def test_detached_samples_verify(smartdcc: Path, trust_store: TrustStore, name: str) -> None:
    root = parse_document((smartdcc / "duis" / "signed" / name).read_bytes())
    signer = verify_signature(root, trust_store, detach=True)
    assert signer.certificate.serial_number > 0


def test_detached_tampered_request_fails(smartdcc: Path, trust_store: TrustStore) -> None:
    data = request_bytes(smartdcc).replace(b"1312345678333", b"1312345678334")
    with pytest.raises(RejectedRequestError) as error:
        verify_signature(parse_document(data), trust_store, detach=True)
    assert "digest" in error.value.detail
