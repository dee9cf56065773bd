"""Settings read by more than one package, each declared once: settings classes mix in the groups they read.

Every group is a `FleetSettingsBase`, so a class combines them with its own fields by inheritance
(`class AwsSettings(AwsAccount, Pacing, TopicSetting): ...`). A variable is declared in exactly one class
(tested: `tests/fleetcore/test_setting_declarations.py`, `python -m scripts.settings_registry --duplicates`).

`Pacing` carries the pacing rule: SPEEDUP and INTERVAL are one setting, and `.env`'s is used only when neither is set
in the environment or passed to the constructor (`fleetcore.station_variables.pacing_overridden`, the rule's one
home). So every reader (the stations, `make cost`, `make plan-aws`, `aws-doctor`) sees the pacing the stations run
at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from fleetcore import station_variables
from fleetcore.identity import DEFAULT_FLEET_DIR
from fleetcore.settings import FleetSettingsBase, Topic
from fleetcore.target import AWS_MAX_RATE, Target
from fleetcore.topic import DEFAULT_TOPIC

DEFAULT_SPEEDUP = 3600.0
"""SPEEDUP when neither SPEEDUP nor INTERVAL is set: one hour of recorded data per second."""

DEFAULT_STATION_IMAGE = "weather-fleet/station:latest"
DEFAULT_MOSQUITTO_IMAGE = "weather-fleet/mosquitto:latest"
"""Built by `make images` from docker/broker: Mosquitto with the fleet_identity plugin the ACL relies on."""
DEFAULT_PIPELINE_IMAGE = "weather-fleet/pipeline:latest"

MAX_FLEET_COUNT = 10_000
"""Stations in one fleet at most (FLEET_COUNT; STATIONS_PER_CONTAINER cannot exceed it either)."""

ROOT_FALLBACK_ID = 10001
"""The user (and group) containers run as when FLEET_UID / FLEET_GID are unset and you are root: never root."""

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class TopicSetting(FleetSettingsBase):
    """TOPIC: the one topic every station publishes to."""

    topic: Topic = Field(DEFAULT_TOPIC, validation_alias="TOPIC",
                         description="The one topic stations publish to; the lake writer and the AWS rules read it.")


class TargetSetting(FleetSettingsBase):
    """TARGET: where the fleet runs."""

    target: Target = Field(Target.LOCAL, validation_alias="TARGET",
                           description="`local` (Mosquitto on this machine) or `aws` (AWS IoT Core).")


class BrokerAddress(FleetSettingsBase):
    """Where an MQTT client connects."""

    mqtt_host: str = Field("localhost", min_length=1, validation_alias="MQTT_HOST",
                           description="Broker host name (in compose: the broker service name).")
    mqtt_port: int = Field(8883, ge=1, le=65535, validation_alias="MQTT_PORT", description="Broker port (mTLS).")


class FleetFolder(FleetSettingsBase):
    """FLEET_DIR: the fleet's identities, manifest and deployment files."""

    fleet_dir: Path = Field(default=DEFAULT_FLEET_DIR, validation_alias="FLEET_DIR",
                            description="Folder holding the CA, identities, broker files, manifest and the "
                            "deployment (compose.env, shards).")


class DataFolder(FleetSettingsBase):
    """DATA_DIR: the station-years the fleet replays."""

    data_dir: Path = Field(default=Path("data"), validation_alias="DATA_DIR",
                           description="Folder of ISD station-year files (plain or .gz).")


class ContainerLayout(FleetSettingsBase):
    """How the fleet's containers run on this host (compose and Swarm alike). FLEET_UID / FLEET_GID unset: your own
    ids, or ROOT_FALLBACK_ID when you are root (containers never run as root)."""

    stations_per_container: int = Field(default=1, ge=1, le=MAX_FLEET_COUNT, validation_alias="STATIONS_PER_CONTAINER",
                                        description="Stations one container runs (1: one container per station).")
    broker_port: int = Field(default=8883, ge=1, le=65535, validation_alias="BROKER_PORT",
                             description="Host port (loopback only) the broker's mTLS listener is published on.")
    broker_wait_seconds: float = Field(default=60.0, ge=0, validation_alias="BROKER_WAIT_SECONDS",
                                       description="How long `make up` / `make swarm-up` wait for the broker to "
                                       "answer on 127.0.0.1:BROKER_PORT, and `make watch` for a broker still "
                                       "starting (0: no wait).")
    # Never uid 0 (containers never run as root); gid 0 is a plain group some hosts give their users.
    fleet_uid: int | None = Field(default=None, ge=1, validation_alias="FLEET_UID",
                           description="User id the station containers run as (unset: yours; "
                           f"{ROOT_FALLBACK_ID} when you are root).")
    fleet_gid: int | None = Field(default=None, ge=0, validation_alias="FLEET_GID",
                           description="Group id the station containers run as (unset: yours; "
                           f"{ROOT_FALLBACK_ID} when you are root).")

    @model_validator(mode="after")
    def _own_ids(self) -> Any:
        root = os.getuid() == 0
        if self.fleet_uid is None:
            self.fleet_uid = ROOT_FALLBACK_ID if root else os.getuid()
        if self.fleet_gid is None:
            self.fleet_gid = ROOT_FALLBACK_ID if root else os.getgid()
        return self


class ImageSettings(FleetSettingsBase):
    """The images the fleet runs (compose.yaml's defaults are the same; tested)."""

    station_image: str = Field(DEFAULT_STATION_IMAGE, validation_alias="STATION_IMAGE",
                               description="Station image name (built by `make images`).")
    mosquitto_image: str = Field(DEFAULT_MOSQUITTO_IMAGE, validation_alias="MOSQUITTO_IMAGE",
                                 description="Broker image: Mosquitto with the fleet_identity plugin (built by "
                                 "`make images` from docker/broker).")
    pipeline_image: str = Field(DEFAULT_PIPELINE_IMAGE, validation_alias="PIPELINE_IMAGE",
                                description="Lake writer image (built by `make images` with PIPELINE=1).")


class FaultsFile(FleetSettingsBase):
    """FAULTS: the fault scenario (docs/faults.md). The stations apply its device rules; `make up` / `make
    swarm-up` validate it, resolve it against the fleet and mount it into every station and group container;
    `make chaos` runs its `fleet:` section."""

    faults: Path | None = Field(None, validation_alias="FAULTS",
                                description="Fault scenario, YAML or JSON (docs/faults.md): its device faults act "
                                "on the stations it selects (`make up`, `make swarm-up`), its fleet faults run with "
                                "`make chaos`; unset: none.")


class LakeFolder(FleetSettingsBase):
    """LAKE_DIR: the local lake."""

    lake_dir: Path = Field(Path("lake"), validation_alias="LAKE_DIR",
                           description="Folder of the local lake (NDJSON files, ledger, DuckDB warehouse).")


class AwsEndpoint(FleetSettingsBase):
    """AWS_ENDPOINT_URL, the standard variable boto3 reads."""

    endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL",
                                     description="Send every AWS call to this endpoint (moto, LocalStack) "
                                     "instead of AWS.")


class AwsAccount(AwsEndpoint):
    """The standard AWS variables (the AWS CLI and boto3 read the same)."""

    region: str | None = Field(default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
                               description="AWS region (AWS Academy: us-east-1); unset: the AWS config's.")
    profile: str | None = Field(default=None, validation_alias="AWS_PROFILE",
                                description="Named profile of ~/.aws/config; unset: the default credentials chain.")


class PipelineRole(FleetSettingsBase):
    """PIPELINE_ROLE_ARN: the role the AWS pipeline uses (also checked by `aws-doctor`)."""

    pipeline_role_arn: str | None = Field(
        default=None, validation_alias="PIPELINE_ROLE_ARN",
        description="Existing role used by the rules, Firehose and the crawler (AWS Academy: LabRole's ARN). "
        "Unset: three least-privilege roles are created, recorded and removed with the stack.")

    @field_validator("pipeline_role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not ROLE_ARN_PATTERN.match(value):
            raise ValueError("PIPELINE_ROLE_ARN must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/LabRole")
        return value


class PacingSource(PydanticBaseSettingsSource):
    """`inner` (the `.env` source) without SPEEDUP and INTERVAL when a source above it (`above`: the constructor,
    the environment) sets either (`station_variables.pacing_overridden`)."""

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource,
                 above: tuple[PydanticBaseSettingsSource, ...]) -> None:
        super().__init__(settings_cls)
        self.inner, self.above = inner, above

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ delegates to the inner source

    def __call__(self) -> dict[str, Any]:
        values = self.inner()
        if any(station_variables.pacing_overridden(source()) for source in self.above):
            values = {k: v for k, v in values.items() if k.upper() not in station_variables.PACING}
        return values


class Pacing(FleetSettingsBase):
    """SPEEDUP / INTERVAL (one setting: one or the other) and MAX_RATE: how fast each station publishes."""

    speedup: float | None = Field(None, gt=0, validation_alias="SPEEDUP",
                                  description="Recorded spacing divided by SPEEDUP (3600: one hour per second; "
                                  "the default when INTERVAL is not set either).")
    interval: float | None = Field(None, ge=0, validation_alias="INTERVAL",
                                   description="Fixed seconds between messages instead of SPEEDUP (0: none).")
    max_rate: float | None = Field(None, ge=0, validation_alias="MAX_RATE",
                                   description="Messages per second per station at most, 0 = no cap (default: "
                                   f"{AWS_MAX_RATE:g} on aws, IoT Core's limit per connection; none locally).")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        dotenv = PacingSource(settings_cls, dotenv_settings, (init_settings, env_settings))
        return init_settings, env_settings, dotenv, file_secret_settings

    @model_validator(mode="after")
    def _one_pacing(self) -> Any:
        if self.speedup is not None and self.interval is not None:
            raise ValueError("set SPEEDUP or INTERVAL, not both")
        return self

    @property
    def effective_speedup(self) -> float | None:
        """SPEEDUP, or DEFAULT_SPEEDUP when neither SPEEDUP nor INTERVAL is set; None in INTERVAL mode."""
        if self.interval is not None:
            return None
        return self.speedup if self.speedup is not None else DEFAULT_SPEEDUP

    def max_rate_on(self, target: Target) -> float:
        """MAX_RATE, or its default on `target`: AWS_MAX_RATE on aws, 0 (no cap) locally."""
        if self.max_rate is not None:
            return self.max_rate
        return AWS_MAX_RATE if target is Target.AWS else 0.0
