"""A test PKI shaped like SMKI organisation certificates: root, issuing CA and CoS parties.

Each certificate carries the remote party role code in OU as two hex digits and the party's
EUI-64 as x500UniqueIdentifier; the CoS party certificates allow digitalSignature only. The
keys are ECDSA P-256. The PKI is generated once per simulator state file and kept in it, so a
resumed run signs with the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

ROLE_ROOT = 0x00
ROLE_TRANSITIONAL_COS = 0x05
ROLE_ISSUING_AUTHORITY = 0x07

TCOS_PARTY_ID = "90B3D51F30000004"
ECOS_PARTY_ID = "90B3D51F30000005"

# Fixed validity, wide enough for any simulated migration period, so that certificates do
# not depend on the day they were generated.
_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2120, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Party:
    """A party of the test PKI: its certificate and private key."""

    name: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def public_key_der(self) -> bytes:
        """Return the DER SubjectPublicKeyInfo of the party's key: what a trust anchor holds."""
        return self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def certificate_der(self) -> bytes:
        """Return the certificate in DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def private_key_pem(self) -> bytes:
        """Return the private key in unencrypted PKCS#8 PEM, for the simulator's state file."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def load(cls, name: str, certificate_der: bytes, private_key_pem: bytes) -> Party:
        """Rebuild a party from its stored certificate and key."""
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"the stored key of {name} is not an EC key")
        return cls(name, x509.load_der_x509_certificate(certificate_der), key)


def _name(role: int, common_name: str, eui64: str | None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{role:02X}"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if eui64 is not None:
        # SMKI carries the EUI-64 as a BIT STRING; cryptography needs bytes for that type.
        attributes.append(
            x509.NameAttribute(
                NameOID.X500_UNIQUE_IDENTIFIER,
                bytes.fromhex(eui64),  # type: ignore[arg-type]  # the stub omits bytes
                _type=_ASN1Type.BitString,
            )
        )
    return x509.Name(attributes)


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER - timedelta(days=0 if ca else 1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass(frozen=True)
class TestPki:
    """The four parties of the simulator's PKI."""

    root: Party
    issuing: Party
    tcos: Party
    ecos: Party

    def parties(self) -> list[Party]:
        """Return every party, root first."""
        return [self.root, self.issuing, self.tcos, self.ecos]


def generate_pki() -> TestPki:
    """Generate a new root, issuing CA, TCoS party and ECoS party, all ECDSA P-256."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(ROLE_ROOT, "Simulated SMKI Root", None)
    root = Party("root", _issue(root_name, root_key, root_name, root_key, ca=True), root_key)

    issuing_key = ec.generate_private_key(ec.SECP256R1())
    issuing_name = _name(ROLE_ISSUING_AUTHORITY, "Simulated SMKI Issuing CA", None)
    issuing = Party(
        "issuing",
        _issue(issuing_name, issuing_key, root_name, root_key, ca=True),
        issuing_key,
    )

    def cos_party(name: str, common_name: str, eui64: str) -> Party:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(ROLE_TRANSITIONAL_COS, common_name, eui64)
        return Party(name, _issue(subject, key, issuing_name, issuing_key, ca=False), key)

    return TestPki(
        root=root,
        issuing=issuing,
        tcos=cos_party("tcos", "Simulated TCoS Party", TCOS_PARTY_ID),
        ecos=cos_party("ecos", "Simulated ECoS Party", ECOS_PARTY_ID),
    )
