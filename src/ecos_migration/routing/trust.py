"""The trust store: organisation certificates that may sign DUIS requests, and their checks."""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ecos_migration.errors import ConfigurationError
from ecos_migration.routing.codes import RejectedRequestError, RouteReason
from ecos_migration.routing.environment import TRUST_STORE_VARIABLE

# SMKI organisation certificates carry the remote party role in the OU as two hex digits;
# 0x87 is XML signing. Older certificates wrote the code in decimal (the DSP's 137 is 0x89),
# so 135 is accepted as the same role.
# NOTE: no public XML-signing certificate with OU 135 exists to test that spelling against.
XML_SIGNING_ROLE_CODES = frozenset({"87", "135"})

_RDN_SEPARATOR = re.compile(r"(?<!\\)[,+]")

logger = logging.getLogger(__name__)

IssuerKey = tuple[tuple[str, str], ...]


# Cached: every request names its signer's issuer, and the few issuers repeat.
@functools.lru_cache(maxsize=1024)
def issuer_key(distinguished_name: str) -> IssuerKey:
    """Return a comparable form of a distinguished name such as ``CN=Z1, OU=07``.

    Attribute order and spaces around separators differ between tools (DCC's tools write
    ``CN=Z1,OU=07`` for a certificate whose issuer is encoded OU first), so the attributes
    are compared as a sorted set of upper-case type and value pairs.
    """
    pairs: list[tuple[str, str]] = []
    for part in _RDN_SEPARATOR.split(distinguished_name):
        attribute, _, value = part.partition("=")
        pairs.append((attribute.strip().upper(), value.strip()))
    return tuple(sorted(pairs))


def unique_identifier(certificate: x509.Certificate) -> str | None:
    """Return the EUI-64 in the subject's x500UniqueIdentifier, upper-case hex, if present."""
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER):
        value = attribute.value
        if isinstance(value, bytes) and len(value) == 9 and value[0] == 0:
            # A DER BIT STRING: one byte of unused bits (zero), then the eight octets.
            return value[1:].hex().upper()
    return None


def role_codes(certificate: x509.Certificate) -> list[str]:
    """Return the subject's organisational unit values (the remote party role codes)."""
    return [
        str(attribute.value)
        for attribute in certificate.subject.get_attributes_for_oid(
            NameOID.ORGANIZATIONAL_UNIT_NAME
        )
    ]


@dataclass(frozen=True, slots=True)
class Signer:
    """A trusted organisation certificate with its public key and the fields routing checks.

    The fields are read from the certificate once, when the trust store is loaded, because
    reading a subject through ``cryptography`` costs more than the rest of the check.
    """

    certificate: x509.Certificate
    public_key: ec.EllipticCurvePublicKey
    not_valid_before: datetime
    not_valid_after: datetime
    roles: tuple[str, ...]
    identifier: str | None

    @classmethod
    def from_certificate(
        cls, certificate: x509.Certificate, public_key: ec.EllipticCurvePublicKey
    ) -> Signer:
        """Read the checked fields of ``certificate``."""
        return cls(
            certificate,
            public_key,
            certificate.not_valid_before_utc,
            certificate.not_valid_after_utc,
            tuple(role_codes(certificate)),
            unique_identifier(certificate),
        )

    def check(self, at: datetime, originator: str) -> None:
        """Check that this certificate may sign a request of ``originator`` at ``at``.

        Raises ``RejectedRequestError`` with SIGNER_CERTIFICATE_NOT_VALID when the certificate
        is outside its validity or not an XML-signing certificate, and SIGNER_NOT_ORIGINATOR
        when its unique identifier is not the RequestID originator.
        """
        serial = self.certificate.serial_number
        if not self.not_valid_before <= at <= self.not_valid_after:
            raise RejectedRequestError(
                RouteReason.SIGNER_CERTIFICATE_NOT_VALID,
                f"signing certificate {serial} is valid from "
                f"{self.not_valid_before.isoformat()} to {self.not_valid_after.isoformat()}, "
                f"not at {at.isoformat()}",
            )
        if not XML_SIGNING_ROLE_CODES.intersection(self.roles):
            raise RejectedRequestError(
                RouteReason.SIGNER_CERTIFICATE_NOT_VALID,
                f"signing certificate {serial} has role {list(self.roles)}, "
                "not XML signing (OU 87)",
            )
        if self.identifier != originator:
            raise RejectedRequestError(
                RouteReason.SIGNER_NOT_ORIGINATOR,
                f"the request is signed by {self.identifier or 'a certificate without an EUI-64'}"
                f", but its RequestID names the originator {originator}",
            )


class TrustStore:
    """Organisation certificates indexed by issuer name and serial number."""

    def __init__(self, certificates: list[x509.Certificate]) -> None:
        self._signers: dict[tuple[IssuerKey, int], Signer] = {}
        for certificate in certificates:
            public_key = certificate.public_key()
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                continue
            key = (issuer_key(certificate.issuer.rfc4514_string()), certificate.serial_number)
            self._signers[key] = Signer.from_certificate(certificate, public_key)

    def __len__(self) -> int:
        return len(self._signers)

    @classmethod
    def from_folder(cls, folder: Path) -> TrustStore:
        """Load every PEM certificate in ``folder`` (``*.pem``, ``*.crt``, ``*.cer``).

        Raises ``ConfigurationError`` if the folder is missing or a file is not a certificate.
        """
        if not folder.is_dir():
            raise ConfigurationError(
                f"trust store {folder} is not a folder: give a folder of PEM organisation "
                f"certificates with --trust-store or {TRUST_STORE_VARIABLE}"
            )
        certificates: list[x509.Certificate] = []
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".pem", ".crt", ".cer"):
                continue
            try:
                certificates.extend(x509.load_pem_x509_certificates(path.read_bytes()))
            except ValueError as exc:
                raise ConfigurationError(
                    f"trust store file {path} holds no readable PEM certificate: {exc}"
                ) from exc
        store = cls(certificates)
        logger.info(
            "Loaded %d signing certificates from %s.",
            len(store),
            folder,
            extra={"trust_store": os.fspath(folder)},
        )
        return store

    def find(self, issuer_name: str, serial_number: int) -> Signer:
        """Return the signer of that issuer and serial, or raise SIGNER_UNKNOWN."""
        signer = self._signers.get((issuer_key(issuer_name), serial_number))
        if signer is None:
            raise RejectedRequestError(
                RouteReason.SIGNER_UNKNOWN,
                f"no trusted certificate has issuer {issuer_name!r} and serial {serial_number}",
            )
        return signer
