"""The identity-folder layout shared by provisioning (writes it), the station and the pipeline (read it).

Under the fleet folder (`FLEET_DIR`, default `.fleet/`)::

    things/<thing_name>/
      certificate.pem   the thing's X.509 certificate (CN = thing name = MQTT client id)
      private.key       its private key, mode 0600, never leaves the machine
      ca.pem            the CA the broker's certificate chains to (fleet CA, or Amazon root CA)

Invariant: a thing's identity folder is named after the thing, and its certificate's CN is that name.

Client ids (enforced by the broker's fleet_identity plugin, docs/security.md): a thing connects only as its own
name. The monitor identity connects only as `monitor-lake` / `monitor-lake-<suffix>` (lake writers: persistent
sessions) or `monitor-watch-<suffix>` (`make watch` and other viewers), so they never take over each other.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

CERTIFICATE_FILE = "certificate.pem"
PRIVATE_KEY_FILE = "private.key"
CA_FILE = "ca.pem"
IDENTITY_FILES = (CERTIFICATE_FILE, PRIVATE_KEY_FILE, CA_FILE)
THINGS_DIR = "things"
MONITOR_THING = "monitor"
# The broker exporter's identity (`pipeline broker-metrics`): connects as client id `metrics`, reads $SYS/# only.
METRICS_THING = "metrics"
LAKE_CLIENT_ID = "monitor-lake"
WATCH_CLIENT_PREFIX = "monitor-watch-"
DEFAULT_FLEET_DIR = Path(".fleet")

# The local fleet's CA and broker files (target local), written by provisioning, mounted by deploy:
#   ca/ca.pem, ca/ca.key                         the local certificate authority (created once, kept)
#   broker/server.pem, server.key, ca.pem, acl   the broker's identity (CN `broker`) and its ACL
CA_DIR = "ca"
CA_KEY_FILE = "ca.key"
BROKER_DIR = "broker"
BROKER_COMMON_NAME = "broker"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server.key"
ACL_FILE = "acl"
# The broker's own healthcheck reads this topic with the server certificate (the ACL grants it).
HEALTH_TOPIC = "$SYS/broker/uptime"
# What the metrics identity (`pipeline broker-metrics`) may read: the broker's own statistics.
SYS_TOPICS = "$SYS/#"
# The broker's host name on the fleet's network (compose service, swarm service alias): the local endpoint.
LOCAL_ENDPOINT = "broker"


def watch_client_id() -> str:
    """A fresh client id for a monitor viewer (`make watch`): never the lake writer's, never another viewer's."""
    return f"{WATCH_CLIENT_PREFIX}{uuid.uuid4().hex[:8]}"


def default_client_id(identity_name: str) -> str:
    """The client id an identity folder connects with: its name, or a viewer's id for the monitor."""
    return watch_client_id() if identity_name == MONITOR_THING else identity_name


def thing_dir(fleet_dir: Path, thing_name: str) -> Path:
    """The identity folder of `thing_name` in the fleet folder."""
    return Path(fleet_dir) / THINGS_DIR / thing_name


@dataclass(frozen=True)
class IdentityFiles:
    """The three files of one identity. `ca` is None when the system's (or certifi's) roots are trusted."""

    certificate: Path
    private_key: Path
    ca: Path | None

    @classmethod
    def in_folder(cls, folder: Path, ca: Path | None = None) -> IdentityFiles:
        """The files of the identity folder `folder`; `ca` replaces its ca.pem when given."""
        folder = Path(folder)
        return cls(folder / CERTIFICATE_FILE, folder / PRIVATE_KEY_FILE, ca or folder / CA_FILE)

    def problems(self, variable: str = "IDENTITY_DIR") -> list[str]:
        """One line per missing or unreadable file, naming `variable` and the command that fixes it."""
        out: list[str] = []
        for label, path in (("certificate", self.certificate), ("private key", self.private_key),
                            ("CA certificate", self.ca)):
            if path is None:
                continue
            if not path.is_file():
                out.append(f"{label} not found: {path} ({variable}={path.parent}); "
                           "run `make register` to create the identities")
            elif not os.access(path, os.R_OK):
                out.append(f"{label} not readable: {path} ({variable}; check its owner and permissions)")
        return out
