"""A throw-away PKI for tests, made by provisioning's own CA code (`provisioning.local_ca`), not a parallel copy.

Client identities are written in the fleet's identity-folder layout (`fleetcore.identity`: `certificate.pem`,
`private.key`, `ca.pem` in one folder per thing), so the station reads them exactly as it reads a real fleet's.
Keys are ECDSA P-256, certificates as `make register` issues them (Mosquitto and awscrt accept both).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetcore.identity import CA_FILE, CERTIFICATE_FILE, PRIVATE_KEY_FILE, IdentityFiles, thing_dir
from provisioning import local_ca
from fleetcore.files import PRIVATE_MODE
from provisioning.register_local import CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE


@dataclass(frozen=True)
class Identity:
    """One client identity folder: certificate (CN = name), private key and the CA that signed the broker."""

    name: str
    directory: Path

    @property
    def files(self) -> IdentityFiles:
        return IdentityFiles.in_folder(self.directory)

    @property
    def certificate(self) -> Path:
        return self.directory / CERTIFICATE_FILE

    @property
    def private_key(self) -> Path:
        return self.directory / PRIVATE_KEY_FILE

    @property
    def ca(self) -> Path:
        return self.directory / CA_FILE


class TestCA:
    """A certificate authority living in `directory` (ca.pem + ca.key), issuing server and client certificates
    with `provisioning.local_ca` (the code `make register` runs)."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, common_name: str = "weather-fleet test CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.common_name = common_name
        self.authority = local_ca.create_authority(common_name)
        self.certificate = self.authority.cert
        self.ca_pem = self.directory / CA_FILE
        self.ca_pem.write_bytes(local_ca.cert_pem(self.authority.cert))
        (self.directory / CA_KEY_FILE).write_bytes(local_ca.key_pem(self.authority.key))

    def _issue(self, common_name: str, server_names: list[str] | None = None) -> tuple[bytes, bytes]:
        key = local_ca.new_key()
        cert = local_ca.issue(self.authority, common_name, key, server_names=server_names)
        return local_ca.cert_pem(cert), local_ca.key_pem(key)

    def issue_server(
        self,
        directory: Path,
        dns_names: tuple[str, ...] = ("localhost", "broker"),
        ips: tuple[str, ...] = ("127.0.0.1",),
    ) -> tuple[Path, Path]:
        """Write `server.pem` and `server.key` (SAN = dns_names + ips) into `directory`; return their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = self._issue(dns_names[0] if dns_names else "broker", server_names=[*dns_names, *ips])
        (directory / SERVER_CERT_FILE).write_bytes(cert)
        (directory / SERVER_KEY_FILE).write_bytes(key)
        return directory / SERVER_CERT_FILE, directory / SERVER_KEY_FILE

    def issue_client(self, name: str, directory: Path | None = None, *, broker_ca: Path | None = None) -> Identity:
        """Write an identity folder for client `name` (CN = name); `ca.pem` is `broker_ca` or this CA."""
        folder = Path(directory) if directory is not None else thing_dir(self.directory, name)
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = self._issue(name)
        identity = Identity(name=name, directory=folder)
        identity.certificate.write_bytes(cert)
        identity.private_key.write_bytes(key)
        identity.private_key.chmod(PRIVATE_MODE)
        identity.ca.write_bytes((broker_ca or self.ca_pem).read_bytes())
        return identity
