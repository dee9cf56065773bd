"""Local key material for AWS things: private key and CSR made here (the key never leaves the machine)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fleetcore.manifest import CA_FILE, CERTIFICATE_FILE, PRIVATE_KEY_FILE


def new_private_key() -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-256 key (accepted by AWS IoT Core, and fast to make for 1,000 things)."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(path: Path):
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def csr_pem(key, thing_name: str) -> str:
    """A PKCS#10 request with CN = thing name, signed by `key`."""
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, thing_name)]))
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def certificate_sha256(cert_pem: str | bytes) -> str:
    """SHA-256 of the DER certificate, hex (what AWS IoT uses as the certificate id)."""
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    cert = x509.load_pem_x509_certificate(data)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def public_key_der(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate_matches_key(cert_pem: str | bytes, key) -> bool:
    """True when the certificate certifies `key`'s public key."""
    data = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    cert = x509.load_pem_x509_certificate(data)
    return public_key_der(cert.public_key()) == public_key_der(key.public_key())


def write_private(path: Path, data: bytes) -> None:
    """Write a secret with mode 0600 from the start (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def write_public(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    os.replace(tmp, path)


def identity_files(folder: Path) -> tuple[Path, Path, Path]:
    """(certificate.pem, private.key, ca.pem) inside an identity folder."""
    return folder / CERTIFICATE_FILE, folder / PRIVATE_KEY_FILE, folder / CA_FILE
