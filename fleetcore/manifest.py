"""The fleet manifest and the identity folder layout: the contract between provisioning, compose and pipeline.

Layout under the fleet folder (`FLEET_DIR`, default `.fleet/`, git-ignored)::

    .fleet/
      manifest.json              this file's model, written atomically
      ca/ca.pem, ca.key          the local certificate authority (target "local" only; created once, kept)
      broker/                    target "local": server.pem, server.key, ca.pem, acl (mounted into Mosquitto)
      things/<thing_name>/       one identity folder per thing, mounted read-only into its container:
        certificate.pem          the thing's X.509 certificate (CN = thing name)
        private.key              its private key, mode 0600, never leaves the machine
        ca.pem                   the CA the broker's certificate chains to (fleet CA, or Amazon root CA)

Every path in the manifest is relative to the fleet folder. The JSON Schema is `contracts/fleet-manifest.schema.json`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema

from fleetcore.identity import CA_FILE, CERTIFICATE_FILE, MONITOR_THING, PRIVATE_KEY_FILE, THINGS_DIR  # noqa: F401
from fleetcore.target import Target
from fleetcore.topic import DEFAULT_TOPIC
from fleetcore.errors import ManifestError

MANIFEST_NAME = "manifest.json"


class Role(StrEnum):
    """What a thing is for."""

    STATION = "station"  # replays one station-year
    MONITOR = "monitor"  # may only read (the lake writer, `make watch`)
    METRICS = "metrics"  # may only read the broker's $SYS/# (`pipeline broker-metrics`)
    HELLO = "hello"      # the lab's first step: publishes to hello/world only (AWS)


class ResourceKind(StrEnum):
    """The kinds of AWS resource a fleet records (teardown deletes them kind by kind)."""

    THING = "thing"
    CERTIFICATE = "certificate"
    POLICY = "policy"
    THING_TYPE = "thing_type"
    THING_GROUP = "thing_group"
    POLICY_ATTACHMENT = "policy_attachment"
    PRINCIPAL_ATTACHMENT = "principal_attachment"
    BUCKET_OBJECT = "bucket_object"
    ROLE = "role"


E = TypeVar("E", bound=StrEnum)


def _inline(enum: type[E], title: str) -> Any:
    """`enum` as a field type whose JSON Schema is the plain list of values (contracts/ stays as it was)."""
    schema = {"enum": [member.value for member in enum], "title": title, "type": "string"}
    return Annotated[enum, WithJsonSchema(schema)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AwsResource(_Model):
    """One AWS resource this fleet created, so teardown removes exactly that and nothing else."""

    kind: _inline(ResourceKind, "Kind")  # type: ignore[valid-type]
    name: str = Field(description="Name, ARN or id identifying the resource for deletion.")
    arn: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)


class Thing(_Model):
    """One device identity."""

    thing_name: str
    role: _inline(Role, "Role") = Role.STATION  # type: ignore[valid-type]
    station_id: str | None = Field(default=None, description="'USAF-WBAN' of the replayed station.")
    isd_file: str | None = Field(default=None, description="File name of the station-year inside DATA_DIR.")
    start_offset: int = Field(default=0, ge=0, description="Records (lines) skipped at the start of the first pass: "
                              "cycled copies of one file start at different places (0 unless the file is cycled).")
    station_name: str | None = Field(default=None, description="Station name from the ISD catalogue "
                                     "(isd-history.csv), when it was cached at registration.")
    country: str | None = Field(default=None, description="FIPS country code from the ISD catalogue, e.g. 'FR'.")
    icao: str | None = Field(default=None, description="ICAO id from the ISD catalogue, e.g. 'KORD'.")
    identity_dir: str = Field(description="Identity folder, relative to the fleet folder.")
    certificate_sha256: str = Field(description="SHA-256 fingerprint (hex) of the DER certificate.")
    certificate_id: str | None = Field(default=None, description="AWS IoT certificate id (target aws).")
    certificate_arn: str | None = None
    thing_arn: str | None = None


class FleetManifest(_Model):
    """Everything a fleet is made of, for compose, the pipeline and teardown."""

    version: Literal[1] = 1
    target: _inline(Target, "Target")  # type: ignore[valid-type]
    endpoint: str = Field(description="MQTT host stations connect to: 'broker' locally, the iot:Data-ATS host on AWS.")
    port: int = 8883
    topic: str = DEFAULT_TOPIC
    prefix: str = Field(description="Thing-name prefix, e.g. 'weather-station'.")
    things: list[Thing]
    region: str | None = None
    policy_name: str | None = None
    aws_resources: list[AwsResource] = Field(default_factory=list)

    def stations(self) -> list[Thing]:
        """The station identities, in manifest order."""
        return [t for t in self.things if t.role == Role.STATION]

    def thing(self, name: str) -> Thing:
        """The identity called `name`; ManifestError names it when absent."""
        for t in self.things:
            if t.thing_name == name:
                return t
        raise ManifestError(f"thing {name!r} is not in the fleet manifest: run `make register`")


def manifest_path(fleet_dir: Path) -> Path:
    return Path(fleet_dir) / MANIFEST_NAME


def load_manifest(fleet_dir: Path) -> FleetManifest:
    """Read the manifest; a missing or unreadable one raises ManifestError naming the path and the fix."""
    path = manifest_path(fleet_dir)
    if not path.is_file():
        raise ManifestError(f"no fleet manifest at {path}: run `make register` first")
    try:
        return FleetManifest.model_validate_json(path.read_text())
    except ValidationError as exc:
        raise ManifestError(f"unreadable fleet manifest {path} ({exc.error_count()} problem(s), first: "
                              f"{exc.errors()[0]['msg']}): restore it, or remove FLEET_DIR's identities with "
                              "`make clean` and run `make register`") from None


def save_manifest(fleet_dir: Path, manifest: FleetManifest) -> Path:
    """Write the manifest atomically (a crash never leaves half a file)."""
    path = manifest_path(fleet_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = manifest.model_dump_json(indent=2, exclude_none=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def manifest_json_schema() -> dict:
    return FleetManifest.model_json_schema()


def dump_schema(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
