"""The station's environment variables: the one list compose files are generated from and tested against.

Every field of the station's settings (single and group mode) is an upper-case environment variable listed here
exactly once:
- `FIXED`: set by the container layout (identity and state mounts) or by the fleet's target;
- `GROUP_FIXED`: group mode's container layout (shard file, identities, data, shared cache mounts);
- `PER_STATION`: differ for each station (set per service by the generated compose files);
- `PASSED_THROUGH` (and `GROUP_PASSED_THROUGH`, group containers only): shared by every station, passed from `.env` / the environment only when set, so the station's
  own defaults apply otherwise.

Invariant (tested): `FIXED | PER_STATION | PASSED_THROUGH` == the station settings' variables, and compose.yaml's
`x-station-env` == `compose_environment()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fleetcore.metrics import STATION_METRICS_PORT

# compose.env's switch for the containers' METRICS_PORT (0: no metrics; unset: STATION_METRICS_PORT)
METRICS_PORT_VARIABLE = "STATIONS_METRICS_PORT"

FIXED: dict[str, str] = {
    "TARGET": "${TARGET:-local}",
    "MQTT_HOST": "${STATIONS_MQTT_HOST:-broker}",
    "MQTT_PORT": "${STATIONS_MQTT_PORT:-8883}",
    "IDENTITY_DIR": "/identity",
    "STATE_DIR": "/state",
    # the port Prometheus scrapes on every station and group container (fleetcore.metrics.STATION_METRICS_PORT);
    # FLEET_METRICS=false makes `deploy write` set STATIONS_METRICS_PORT=0 in compose.env: no metrics server
    "METRICS_PORT": f"${{{METRICS_PORT_VARIABLE}:-{STATION_METRICS_PORT}}}",
    # the fault scenario inside the container: set by the fleet's layout when FAULTS is given (mounted read-only,
    # its `count` selections resolved against the fleet); empty = no faults
    "FAULTS": "${STATIONS_FAULTS:-}",
}

# Group mode (SHARD_FILE set): one container runs every thing of its shard; IDENTITY_DIR, THING_NAME, DATA_FILE and
# START_OFFSET come from the shard instead (see fleetcore.shard).
GROUP_FIXED: dict[str, str] = {
    "SHARD_FILE": "/shard/shard.json",
    "IDENTITIES_DIR": "/identities",
    "DATA_DIR": "/data",
    "CACHE_DIR": "/cache",
    "FLEET_GROUPS": "${FLEET_GROUPS:-1}",
}

PER_STATION: tuple[str, ...] = ("THING_NAME", "DATA_FILE", "START_OFFSET")

PASSED_THROUGH: tuple[str, ...] = (
    "TOPIC", "SPEEDUP", "INTERVAL", "MAX_RATE", "LOOP", "START_AT", "TIME_MODE", "LOG_FORMAT", "LOG_LEVEL",
    "DRAIN_TIMEOUT", "PROGRESS_INTERVAL", "CONNECT_TIMEOUT", "MAX_INFLIGHT", "KEEP_ALIVE", "SESSION_EXPIRY",
    "CHECKPOINT_INTERVAL", "PRELOAD", "DECODE_AHEAD", "METRICS_PER_STATION",
)

# Passed through to group containers only (the single station has no use for them).
GROUP_PASSED_THROUGH: tuple[str, ...] = ("CONNECT_RATE",)

# SPEEDUP and INTERVAL are one setting, the pacing: a source that sets either sets both (the station refuses both).
PACING: tuple[str, ...] = ("SPEEDUP", "INTERVAL")


def pacing_overridden(above: Iterable[str]) -> bool:
    """The pacing rule: when a source above `.env` (the environment, a constructor) sets SPEEDUP or INTERVAL (even
    empty), `.env`'s values of both are dropped. `above`: the names that source sets (any case)."""
    return any(name.upper() in PACING for name in above)


def layered(dotenv: Mapping[str, str], environment: Mapping[str, str]) -> dict[str, str]:
    """`.env` under the environment, as the station and the Makefile read them: the environment wins, and when
    it sets SPEEDUP or INTERVAL (even empty), `.env`'s value of the other is dropped, so `INTERVAL=1` in the
    environment is never refused because `.env` has `SPEEDUP=3600` (`pacing_overridden`)."""
    base = dict(dotenv)
    if pacing_overridden(environment):
        for name in PACING:
            base.pop(name, None)
    return {**base, **environment}


def all_variables() -> set[str]:
    """Every variable a single station reads."""
    return {*FIXED, *PER_STATION, *PASSED_THROUGH}


def group_variables() -> set[str]:
    """The variables group mode reads besides the single station's (station.group.settings)."""
    return {*GROUP_FIXED, *GROUP_PASSED_THROUGH}


def compose_environment() -> dict[str, str | None]:
    """The shared part of a station service's `environment:` (None: passed through from .env when set)."""
    return {**FIXED, **{name: None for name in PASSED_THROUGH}}


def group_compose_environment() -> dict[str, str | None]:
    """The `environment:` of a group service (group mode: no IDENTITY_DIR, no per-station variable)."""
    fixed = {k: v for k, v in FIXED.items() if k != "IDENTITY_DIR"}
    return {**fixed, **GROUP_FIXED, **{name: None for name in (*PASSED_THROUGH, *GROUP_PASSED_THROUGH)}}
