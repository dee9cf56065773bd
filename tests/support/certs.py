"""A throw-away PKI for tests: a CA, a broker server certificate and client identities, built with `cryptography`.

Client identities are written in the layout provisioning uses (`certificate.pem`, `private.key`, `ca.pem` in one
folder per thing, see `provisioning/manifest.py`), so the station reads them exactly as it reads a real fleet's.
Keys are ECDSA P-256 (fast to generate; Mosquitto and awscrt both accept them).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERTIFICATE_FILE = "certificate.pem"
PRIVATE_KEY_FILE = "private.key"
CA_FILE = "ca.pem"

_VALIDITY = dt.timedelta(days=2)


@dataclass(frozen=True)
class Identity:
    """One client identity folder: certificate (CN = name), private key and the CA that signed the broker."""

    name: str
    directory: Path

    @property
    def certificate(self) -> Path:
        return self.directory / CERTIFICATE_FILE

    @property
    def private_key(self) -> Path:
        return self.directory / PRIVATE_KEY_FILE

    @property
    def ca(self) -> Path:
        return self.directory / CA_FILE


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class TestCA:
    """A certificate authority living in `directory` (ca.pem + ca.key), issuing server and client certificates."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, common_name: str = "weather-fleet test CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.common_name = common_name
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = self.directory / CA_FILE
        self.ca_pem.write_bytes(_cert_pem(self.certificate))
        (self.directory / "ca.key").write_bytes(_key_pem(self._key))

    def _issue(
        self, common_name: str, *, server: bool, dns_names: tuple[str, ...] = (), ips: tuple[str, ...] = ()
    ) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        if dns_names or ips:
            names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
            names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return _cert_pem(cert), _key_pem(key)

    def issue_server(
        self,
        directory: Path,
        dns_names: tuple[str, ...] = ("localhost", "broker"),
        ips: tuple[str, ...] = ("127.0.0.1",),
    ) -> tuple[Path, Path]:
        """Write `server.pem` and `server.key` (SAN = dns_names + ips) into `directory`; return their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = self._issue(dns_names[0] if dns_names else "broker", server=True, dns_names=dns_names, ips=ips)
        (directory / "server.pem").write_bytes(cert)
        (directory / "server.key").write_bytes(key)
        return directory / "server.pem", directory / "server.key"

    def issue_client(self, name: str, directory: Path | None = None, *, broker_ca: Path | None = None) -> Identity:
        """Write an identity folder for client `name` (CN = name); `ca.pem` is `broker_ca` or this CA."""
        folder = Path(directory) if directory is not None else self.directory / "things" / name
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = self._issue(name, server=False)
        identity = Identity(name=name, directory=folder)
        identity.certificate.write_bytes(cert)
        identity.private_key.write_bytes(key)
        identity.private_key.chmod(0o600)
        identity.ca.write_bytes((broker_ca or self.ca_pem).read_bytes())
        return identity
