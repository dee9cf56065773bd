"""Fleet configuration (provisioning, compose) read from the environment and `.env` by pydantic-settings."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings

from fleetcore.identity import DEFAULT_FLEET_DIR
from fleetcore.settings import FleetSettingsBase, Topic, load_settings
from fleetcore.target import Target
from fleetcore.topic import DEFAULT_TOPIC
from provisioning.errors import ConfigError

# Always in the broker certificate: the compose service name, and the host's loopback for `make watch`.
DEFAULT_BROKER_HOSTNAMES = ("broker", "localhost", "127.0.0.1")
MAX_FLEET_COUNT = 10_000


S = TypeVar("S", bound=BaseSettings)


def load(model: type[S], **overrides: object) -> S:
    """`fleetcore.settings.load_settings` raising provisioning's ConfigError (one line per bad variable)."""
    return load_settings(model, ConfigError, **overrides)


class FleetSettings(FleetSettingsBase):
    """Variables of the `Fleet` section of `.env.example`."""

    fleet_dir: Path = Field(default=DEFAULT_FLEET_DIR, validation_alias="FLEET_DIR",
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
    target: Target = Field(default=Target.LOCAL, validation_alias="TARGET")
    topic: Topic = Field(default=DEFAULT_TOPIC, validation_alias="TOPIC")
    broker_hostnames: str = Field(default="", validation_alias="BROKER_HOSTNAMES",
                                  description="Extra comma-separated DNS names / IPs for the broker certificate.")
    fleet_uid: int = Field(default=10001, ge=1, validation_alias="FLEET_UID",
                           description="User id the station containers run as (the Makefile sets your own).")
    fleet_gid: int = Field(default=10001, ge=0, validation_alias="FLEET_GID")
    broker_port: int = Field(default=8883, ge=1, le=65535, validation_alias="BROKER_PORT",
                             description="Host port (loopback only) the broker's mTLS listener is published on.")
    broker_wait_seconds: float = Field(default=60.0, ge=0, validation_alias="BROKER_WAIT_SECONDS",
                                       description="How long `make watch` (and `make up`/`make swarm-up`) wait "
                                       "for a broker that is still starting.")

    def hostnames(self) -> list[str]:
        """The broker certificate's SAN entries: the defaults, then BROKER_HOSTNAMES, without duplicates."""
        extra = [n.strip() for n in self.broker_hostnames.split(",") if n.strip()]
        return list(dict.fromkeys([*DEFAULT_BROKER_HOSTNAMES, *extra]))
