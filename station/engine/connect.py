"""A station's connection: its client's config (one builder for every host) and the group's connect pacing.

Invariants:
- on AWS IoT Core a client id may CONNECT at most once per second, so there the reconnect back-off never starts
  below `AWS_MIN_RECONNECT_MS` (locally 250 ms);
- a group staggers first connects at its CONNECT_RATE, each at a uniformly jittered time within its slot
  (`ConnectSlots`); its clients' reconnect back-off (full jitter) starts at least at the time the whole group
  needs at that rate (`ConnectSlots.reconnect_floor_ms`), so a broker restart's reconnect storm spreads over
  the same group-wide rate instead of arriving at once.

Why a spread and not a gate: the CRT client reconnects on its own timer and has no "reconnect now"; stopping and
restarting it would fail every queued and unacknowledged QoS1 publish (aws-c-mqtt `s_change_current_state_to_stopped`
completes them with AWS_ERROR_MQTT5_USER_REQUESTED_STOP), which the replay must never lose.
"""

from __future__ import annotations

import math
import random
from typing import Any

from fleetcore.aws_limits import IOT_MIN_RECONNECT_SECONDS
from fleetcore.identity import IdentityFiles
from fleetcore.target import Target
from station.publisher import ConnectionConfig
from station.settings import EndpointFields

LOCAL_MIN_RECONNECT_MS = 250
AWS_MIN_RECONNECT_MS = round(1000 * IOT_MIN_RECONNECT_SECONDS)  # AWS IoT Core: 1 CONNECT per second per client id
MAX_RECONNECT_MS = 30_000


def connection_config(settings: EndpointFields, client_id: str, identity: IdentityFiles, *,
                      min_reconnect_ms: int = 0, bootstrap: Any = None) -> ConnectionConfig:
    """The client config of station `client_id`: the only place a station's ConnectionConfig is made."""
    aws = settings.target is Target.AWS
    floor = AWS_MIN_RECONNECT_MS if aws else LOCAL_MIN_RECONNECT_MS
    return ConnectionConfig(
        host=settings.mqtt_host, port=settings.mqtt_port, client_id=client_id, certificate=identity.certificate,
        private_key=identity.private_key, ca=identity.ca, metrics=settings.metrics_enabled, aws_limits=aws,
        keep_alive=settings.keep_alive, session_expiry=settings.session_expiry,
        min_reconnect_ms=min(MAX_RECONNECT_MS, max(floor, min_reconnect_ms)), max_reconnect_ms=MAX_RECONNECT_MS,
        bootstrap=bootstrap)


class ConnectSlots:
    """The group-wide connect rate: `rate` connects per second, each at a jittered time within its slot."""

    def __init__(self, rate: float, rng: random.Random | None = None) -> None:
        if rate <= 0:
            raise ValueError("connect rate must be > 0")
        self.rate = rate
        self._rng = rng or random.Random()
        self._free = -math.inf  # where the next free slot starts

    def take(self, now: float) -> float:
        """The time of the next connect: within the next free slot (1 / rate wide) at or after `now`."""
        start = max(self._free, now)
        self._free = start + 1.0 / self.rate
        return start + self._rng.random() / self.rate

    def reconnect_floor_ms(self, clients: int) -> int:
        """The reconnect back-off start that spreads `clients` simultaneous reconnects (full jitter: uniform
        within it) over this rate."""
        return int(math.ceil(1000.0 * clients / self.rate))
