"""Fleet configuration (provisioning, compose) read from the environment and `.env` by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Always in the broker certificate: the compose service name, and the host's loopback for `make watch`.
DEFAULT_BROKER_HOSTNAMES = ("broker", "localhost", "127.0.0.1")
MAX_FLEET_COUNT = 10_000
# A Linux bridge network has at most 1,024 ports: the broker, the pipeline and at most this many station containers.
MAX_STATION_CONTAINERS = 1000


class FleetSettings(BaseSettings):
    """Variables of the `Fleet` section of `.env.example`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    fleet_dir: Path = Field(default=Path(".fleet"), validation_alias="FLEET_DIR",
                            description="Folder holding the CA, identities, broker files and manifest.")
    data_dir: Path = Field(default=Path("data"), validation_alias="DATA_DIR",
                           description="Folder of ISD station-year files (plain or .gz).")
    fleet_prefix: str = Field(default="weather-station", validation_alias="FLEET_PREFIX",
                              pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")
    # Up to 10,000 stations: one container each up to 1,000 (what one Docker bridge network holds), more with
    # STATIONS_PER_CONTAINER (group mode: one container runs many stations). compose.yaml has five stations; more
    # are generated.
    fleet_count: int = Field(default=5, ge=1, le=MAX_FLEET_COUNT, validation_alias="FLEET_COUNT",
                             description="Number of stations (identities, and stations started by `make up`).")
    stations_per_container: int = Field(default=1, ge=1, le=MAX_FLEET_COUNT, validation_alias="STATIONS_PER_CONTAINER",
                                        description="Stations one container runs (1: one container per station).")
    target: Literal["local", "aws"] = Field(default="local", validation_alias="TARGET")
    topic: str = Field(default="sensor/weather", validation_alias="TOPIC")
    broker_hostnames: str = Field(default="", validation_alias="BROKER_HOSTNAMES",
                                  description="Extra comma-separated DNS names / IPs for the broker certificate.")
    fleet_uid: int = Field(default=10001, ge=1, validation_alias="FLEET_UID",
                           description="User id the station containers run as (the Makefile sets your own).")
    fleet_gid: int = Field(default=10001, ge=0, validation_alias="FLEET_GID")
    broker_port: int = Field(default=8883, ge=1, le=65535, validation_alias="BROKER_PORT",
                             description="Host port (loopback only) the broker's mTLS listener is published on.")

    @field_validator("topic")
    @classmethod
    def _concrete_topic(cls, value: str) -> str:
        if not value or any(c in value for c in "#+") or value.startswith("$"):
            raise ValueError(f"TOPIC must be a concrete topic name (no wildcards, no $): {value!r}")
        return value

    def hostnames(self) -> list[str]:
        """The broker certificate's SAN entries: the defaults, then BROKER_HOSTNAMES, without duplicates."""
        extra = [n.strip() for n in self.broker_hostnames.split(",") if n.strip()]
        return list(dict.fromkeys([*DEFAULT_BROKER_HOSTNAMES, *extra]))
