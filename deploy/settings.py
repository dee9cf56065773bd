"""Deployment's settings: what turns a manifest into containers, from the shared groups of
`fleetcore.setting_groups` (folders, container layout, images, lake, target) plus the Swarm section and the compose
command. `BrokerLimits` is the local broker's AWS emulation (`deploy.broker_config`). `SwarmSettings` is the `Swarm` section of `.env.example` (its table in docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field

from deploy.errors import ConfigError
from fleetcore.aws_limits import IOT_MAX_PAYLOAD_BYTES, IOT_PUBLISHES_PER_SECOND_PER_CONNECTION
from fleetcore.setting_groups import (ContainerLayout, DataFolder, FaultsFile, FleetFolder, ImageSettings,
                                      LakeFolder, TargetSetting)
from fleetcore.settings import FleetSettingsBase, load_settings

MQTT_MAX_PACKET_BYTES = 268_435_455
"""MQTT's largest packet (a four-byte remaining length)."""


class BrokerLimits(FleetSettingsBase):
    """AWS IoT Core's message limits on the local broker (deploy.broker_config writes them into its mosquitto.conf
    at `make up` / `make swarm-up`): on by default, with AWS's values; 0 lifts one."""

    broker_max_payload_bytes: int = Field(IOT_MAX_PAYLOAD_BYTES, ge=0, le=MQTT_MAX_PACKET_BYTES,
                                          validation_alias="BROKER_MAX_PAYLOAD_BYTES",
                                          description="Largest MQTT packet the local broker accepts (Mosquitto's "
                                          "max_packet_size; AWS IoT Core: 128 KB per message); a larger PUBLISH "
                                          "gets DISCONNECT 0x95. 0: no limit.")
    broker_max_publishes_per_second: int = Field(IOT_PUBLISHES_PER_SECOND_PER_CONNECTION, ge=0,
                                                 validation_alias="BROKER_MAX_PUBLISHES_PER_SECOND",
                                                 description="Publishes per second one connection may make to the "
                                                 "local broker (AWS IoT Core: 100); the excess gets PUBACK 0x87 and "
                                                 "is dropped. 0: no limit.")


class SwarmSettings(ImageSettings, LakeFolder, ContainerLayout):
    """Variables of the `Swarm` section of `.env.example`, with the images, the lake and the container layout shared
    with compose (`fleetcore.setting_groups`)."""

    swarm_stack: str = Field(default="weather-fleet", validation_alias="SWARM_STACK",
                             description="Stack name: services are <stack>_broker, <stack>_station-N (or "
                             "<stack>_group-N).")
    registry: str | None = Field(default=None, validation_alias="REGISTRY",
                                 description="host:port of a registry every node pulls from (swarm-up pushes "
                                 "there); unset: local images.")
    pipeline: bool = Field(default=False, validation_alias="PIPELINE",
                           description="Also run the lake writer (PIPELINE_IMAGE) in the stack, on this node, "
                           "writing LAKE_DIR.")


class DeploySettings(SwarmSettings, BrokerLimits, TargetSetting, FleetFolder, DataFolder, FaultsFile):
    """Everything `python -m deploy` reads: the Swarm section with its shared groups, the broker's limits, the
    folders, TARGET, FAULTS, and how compose and the images are run and built."""

    compose: str | None = Field(default=None, validation_alias="COMPOSE",
                                description="The compose command (default: `docker compose` when it answers, "
                                "else `docker-compose`).")
    compose_project_name: str | None = Field(default=None, validation_alias="COMPOSE_PROJECT_NAME",
                                             description="Compose project name: container names start with it "
                                             "(default: the checkout folder's name).")
    fleet_metrics: bool = Field(default=True, validation_alias="FLEET_METRICS",
                                description="Station and group containers serve Prometheus /metrics on 9101 "
                                "(docs/observability.md). false: no metrics server in them and no station targets "
                                "for `make metrics-up`; takes effect at `make register` / `make up`.")
    base_image: str | None = Field(default=None, validation_alias="BASE_IMAGE",
                                   description="Base of the images built here (default: python:3.12-slim for the "
                                   "station and pipeline, debian:bookworm-slim for the broker).")

    @property
    def monitor_dir(self):  # noqa: ANN201 - a Path
        return self.fleet_dir / "things" / "monitor"


def load(**overrides: object) -> DeploySettings:
    """DeploySettings from the environment and `.env`; deploy's ConfigError names each bad variable."""
    return load_settings(DeploySettings, ConfigError, **overrides)
