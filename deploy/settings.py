"""Deployment's settings: the `Fleet` and `Swarm` variables of `.env.example` that turn a manifest into containers.

FLEET_UID / FLEET_GID default to your own ids, or 10001 when you are root (`make register` run as root hands the
station identities to that uid): the user every station and the lake writer run as, never root.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from deploy.errors import ConfigError
from fleetcore.identity import DEFAULT_FLEET_DIR
from fleetcore.settings import FleetSettingsBase, load_settings
from fleetcore.target import Target

ROOT_FALLBACK_ID = 10001


def _own_uid() -> int:
    return ROOT_FALLBACK_ID if os.getuid() == 0 else os.getuid()


def _own_gid() -> int:
    return ROOT_FALLBACK_ID if os.getuid() == 0 else os.getgid()


class DeploySettings(FleetSettingsBase):
    """Where the fleet is, how its containers run, and the Swarm stack's names and images."""

    fleet_dir: Path = Field(default=DEFAULT_FLEET_DIR, validation_alias="FLEET_DIR",
                            description="Folder holding the CA, identities, broker files and manifest.")
    data_dir: Path = Field(default=Path("data"), validation_alias="DATA_DIR",
                           description="Folder of ISD station-year files (plain or .gz).")
    target: Target = Field(default=Target.LOCAL, validation_alias="TARGET")
    stations_per_container: int = Field(default=1, ge=1, validation_alias="STATIONS_PER_CONTAINER",
                                        description="Stations one container runs (1: one container per station).")
    fleet_uid: int = Field(default_factory=_own_uid, ge=1, validation_alias="FLEET_UID",
                           description="User id the station containers run as (default: yours; 10001 as root).")
    fleet_gid: int = Field(default_factory=_own_gid, ge=0, validation_alias="FLEET_GID")
    broker_port: int = Field(default=8883, ge=1, le=65535, validation_alias="BROKER_PORT")
    broker_wait_seconds: float = Field(default=60.0, ge=0, validation_alias="BROKER_WAIT_SECONDS",
                                       description="How long `make up` / `make swarm-up` wait for the broker to "
                                       "answer on 127.0.0.1:BROKER_PORT (0: do not wait).")
    compose_project_name: str | None = Field(default=None, validation_alias="COMPOSE_PROJECT_NAME")
    compose: str | None = Field(default=None, validation_alias="COMPOSE",
                                description="The compose command (default: `docker compose`, else docker-compose).")
    lake_dir: Path = Field(default=Path("lake"), validation_alias="LAKE_DIR")
    base_image: str | None = Field(default=None, validation_alias="BASE_IMAGE",
                                   description="Base of the images built here (default: python:3.12-slim for the "
                                   "station and pipeline, debian:bookworm-slim for the broker).")
    # Swarm
    swarm_stack: str = Field(default="weather-fleet", validation_alias="SWARM_STACK")
    registry: str | None = Field(default=None, validation_alias="REGISTRY")
    station_image: str = Field(default="weather-fleet/station:latest", validation_alias="STATION_IMAGE")
    mosquitto_image: str = Field(default="weather-fleet/mosquitto:latest", validation_alias="MOSQUITTO_IMAGE")
    pipeline_image: str = Field(default="weather-fleet/pipeline:latest", validation_alias="PIPELINE_IMAGE")
    pipeline: bool = Field(default=False, validation_alias="PIPELINE")

    @property
    def monitor_dir(self) -> Path:
        return self.fleet_dir / "things" / "monitor"


def load(**overrides: object) -> DeploySettings:
    """DeploySettings from the environment and `.env`; deploy's ConfigError names each bad variable."""
    return load_settings(DeploySettings, ConfigError, **overrides)
