"""Fleet configuration (provisioning, compose) read from the environment and `.env` by pydantic-settings."""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings

from fleetcore.setting_groups import (MAX_FLEET_COUNT, ContainerLayout, DataFolder, FleetFolder, TargetSetting,
                                      TopicSetting)
from fleetcore.settings import load_settings
from provisioning.errors import ConfigError

# Always in the broker certificate: the compose service name, and the host's loopback for `make watch`.
DEFAULT_BROKER_HOSTNAMES = ("broker", "localhost", "127.0.0.1")


S = TypeVar("S", bound=BaseSettings)


def load(model: type[S], **overrides: object) -> S:
    """`fleetcore.settings.load_settings` raising provisioning's ConfigError (one line per bad variable)."""
    return load_settings(model, ConfigError, **overrides)


class FleetSettings(TargetSetting, TopicSetting, ContainerLayout, FleetFolder, DataFolder):
    """Variables of the `Fleet` section of `.env.example` (with the shared groups of `fleetcore.setting_groups`)."""

    fleet_prefix: str = Field(default="weather-station", validation_alias="FLEET_PREFIX",
        description="Thing names are PREFIX-1 .. PREFIX-N.",
                              pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,100}$")
    # Up to 10,000 stations: one container each up to 1,000 (what one Docker bridge network holds), more with
    # STATIONS_PER_CONTAINER (group mode: one container runs many stations). compose.yaml has five stations; more
    # are generated.
    fleet_count: int = Field(default=5, ge=1, le=MAX_FLEET_COUNT, validation_alias="FLEET_COUNT",
                             description="Number of stations (identities, and stations started by `make up`).")
    broker_hostnames: str = Field(default="", validation_alias="BROKER_HOSTNAMES",
                                  description="Extra comma-separated DNS names / IPs for the broker certificate.")
    def hostnames(self) -> list[str]:
        """The broker certificate's SAN entries: the defaults, then BROKER_HOSTNAMES, without duplicates."""
        extra = [n.strip() for n in self.broker_hostnames.split(",") if n.strip()]
        return list(dict.fromkeys([*DEFAULT_BROKER_HOSTNAMES, *extra]))
