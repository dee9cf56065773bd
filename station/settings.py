"""The station's configuration: environment variables (or `.env`) read and validated by pydantic-settings.

Variable names are unprefixed (`THING_NAME`, `MQTT_HOST`, ...), as compose passes them to each container.
`load_settings()` turns every problem into one clear line naming the variable; `check_files()` checks the identity
folder and the data file before any connection is attempted.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, field_validator

from fleetcore.identity import DEFAULT_FLEET_DIR, IdentityFiles, thing_dir
from fleetcore.metrics import STATION_METRICS_PORT
from fleetcore.settings import load_settings as _load_settings
from fleetcore.setting_groups import BrokerAddress, FaultsFile, Pacing, TargetSetting, TopicSetting
from fleetcore.target import Target
from station.errors import ConfigError
from station.scheduler import Pacer



S = TypeVar("S", bound="EndpointFields")


class TimeMode(StrEnum):
    """`TIME_MODE`: the `time` field of each message."""

    ORIGINAL = "original"  # the observation time as recorded
    SHIFTED = "shifted"    # the wall-clock time the record is scheduled for


class EndpointFields(TargetSetting, BrokerAddress):
    """Where to connect (TARGET, MQTT_HOST, MQTT_PORT: the fleet's shared groups) and how to log: shared by one
    station and a group. Each field is the upper-case environment variable."""

    log_format: Literal["text", "json"] = Field("text", description="`text` lines, or `json` (one object a line) "
                                                "for machines.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="DEBUG, INFO, WARNING or "
                                                                    "ERROR.")
    connect_timeout: float = Field(30.0, gt=0, description="Give up when the first connection fails this long.")
    keep_alive: int = Field(30, ge=5, le=1200, description="MQTT keep-alive in seconds.")
    session_expiry: int = Field(3600, ge=0, description="Seconds the broker keeps the session while disconnected.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def identity_in(self, folder: Path) -> IdentityFiles:
        """The identity files in `folder`; the CA is ca.pem there, or for aws without one certifi's bundle (which
        holds the Amazon root CAs)."""
        files = IdentityFiles.in_folder(folder)
        if files.ca is not None and not files.ca.is_file() and self.target == Target.AWS:
            import certifi

            return IdentityFiles(files.certificate, files.private_key, Path(certifi.where()))
        return files

    @property
    def metrics_enabled(self) -> bool:
        """SDK metrics go in the MQTT username: on for AWS IoT Core, off for Mosquitto (CN is the username)."""
        return self.target == Target.AWS


class ConnectionSettings(EndpointFields):
    """Who connects where: what `station send-hello` needs."""

    thing_name: str = Field(min_length=1, max_length=128, description="Thing name, also the MQTT client id.")
    identity_dir: Path | None = Field(
        None, description="Folder with certificate.pem, private.key, ca.pem (default .fleet/things/THING_NAME)."
    )

    @property
    def identity_path(self) -> Path:
        if self.identity_dir is not None:
            return self.identity_dir
        return thing_dir(Path(os.environ.get("FLEET_DIR") or DEFAULT_FLEET_DIR), self.thing_name)

    @property
    def identity(self) -> IdentityFiles:
        return self.identity_in(self.identity_path)

    @property
    def certificate_path(self) -> Path:
        return self.identity.certificate

    @property
    def private_key_path(self) -> Path:
        return self.identity.private_key

    @property
    def ca_path(self) -> Path | None:
        return self.identity.ca


class ReplayFields(EndpointFields, TopicSetting, Pacing, FaultsFile):
    """How every station replays, whatever hosts it (one station or a group): every field is an environment
    variable of the same name in upper case, declared here once (TOPIC, FAULTS and the pacing, with its rule,
    in the fleet's shared groups, `fleetcore.setting_groups`)."""

    loop: bool = Field(False, description="Start over after the last record (seq keeps growing).")
    start_at: datetime | None = Field(None, description="Start at the first record at or after this UTC time.")
    time_mode: TimeMode = Field(TimeMode.ORIGINAL, description="`original` observation times, or `shifted`: the "
                                "wall-clock time each record is scheduled for.")
    state_dir: Path = Field(Path(".state"), description="Checkpoint and status folder (a volume in containers).")
    drain_timeout: float = Field(5.0, ge=0, description="Seconds to wait for in-flight PUBACKs on shutdown.")
    progress_interval: float = Field(5.0, gt=0, description="Seconds between progress log lines.")
    max_inflight: int = Field(1000, ge=1, le=65535, description="Unacknowledged QoS1 publishes at most.")
    checkpoint_interval: float = Field(1.0, gt=0, description="Seconds between checkpoint writes.")
    metrics_port: int = Field(STATION_METRICS_PORT, ge=0, le=65535, description="Port of the process's "
                              "Prometheus /metrics (docs/observability.md); 0: no metrics.")
    metrics_per_station: bool = Field(False, description="Also label every metric series by station (small "
                                      "fleets only).")

    @field_validator("start_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value

    # --- derived values ---------------------------------------------------------------------------------------
    @property
    def effective_max_rate(self) -> float:
        """Messages per second at most; 0 means no cap. Default 100 for AWS IoT Core, none locally."""
        return self.max_rate_on(self.target)

    def pacing_text(self) -> str:
        if self.interval is not None:
            pace = f"interval={self.interval:g}s"
        else:
            pace = f"speedup={self.effective_speedup:g}"
        rate = self.effective_max_rate
        return pace + (f" max_rate={rate:g}/s" if rate else " max_rate=none")

    def new_pacer(self, origin: float | None = None) -> Pacer:
        """The pacing of one station's replay (SPEEDUP or INTERVAL, capped by MAX_RATE) from `origin`."""
        speedup = self.effective_speedup
        return Pacer(speedup=speedup, interval=None if speedup else self.interval,
                     max_rate=self.effective_max_rate, origin=origin)


class StationSettings(ReplayFields, ConnectionSettings):
    """What `station run` needs for one station: the replay's fields, its identity and its own data file."""

    data_file: Path = Field(description="The ISD station-year to replay (plain or .gz).")
    start_offset: int = Field(0, ge=0, description="Records (lines) skipped at the start of the first pass, so "
                              "cycled copies of a file differ (written by registration; ignored on resume).")
    preload: bool = Field(False, description="Decode and encode the whole file at start-up (fastest publishing).")
    decode_ahead: bool = Field(True, description="Unthrottled replays (INTERVAL=0, no MAX_RATE) decode the file "
                               "once ahead, into the message cache in STATE_DIR/.cache, then only splice seq and "
                               "sent_at while publishing.")


def load_settings(model: type[S] = StationSettings, **overrides: object) -> S:  # type: ignore[assignment]
    """`fleetcore.settings.load_settings` raising the station's ConfigError (one line per bad variable)."""
    return _load_settings(model, ConfigError, **overrides)


def identity_problems(settings: ConnectionSettings) -> list[str]:
    """One line per missing or unreadable identity file (naming IDENTITY_DIR and `make register`)."""
    return settings.identity.problems("IDENTITY_DIR")


def check_identity(settings: ConnectionSettings) -> None:
    """Raise ConfigError when the identity folder is incomplete."""
    problems = identity_problems(settings)
    if problems:
        raise ConfigError("\n".join(problems))


def check_files(settings: StationSettings) -> None:
    """Check the identity folder and the data file before connecting; raise ConfigError naming the path."""
    problems = identity_problems(settings)
    data = settings.data_file
    if not data.is_file():
        problems.append(f"data file not found: {data} (DATA_FILE)")
    else:
        try:
            with data.open("rb") as fh:
                fh.read(1)
        except OSError as exc:
            problems.append(f"data file not readable: {data} (DATA_FILE): {exc.strerror}")
    state = settings.state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problems.append(f"state folder cannot be created: {state} (STATE_DIR): {exc.strerror}")
    else:
        if not os.access(state, os.W_OK | os.X_OK):
            problems.append(f"state folder not writable: {state} (STATE_DIR; mount a writable volume there)")
    if problems:
        raise ConfigError("\n".join(problems))
