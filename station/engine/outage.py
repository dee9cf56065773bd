"""A lane's connection taken down on purpose (the `disconnect` and `reconnect_storm` faults), one step at a time.

Phases: `IDLE` waits until every publish of the lane is complete (QoS 1 messages in flight are never failed by a
fault: the fleet itself loses nothing acknowledged), then closes the connection; `DOWN` waits `down_s` seconds
and starts the client again; `UP` waits for the connection. The lane publishes nothing meanwhile; its messages due
in the outage go out late, in order, once it is back. `Lane.outage_step` drives it for both hosts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

POLL_S = 0.05  # how often a phase looks again while waiting for PUBACKs or the connection


class Phase(Enum):
    IDLE = "idle"
    DOWN = "down"
    UP = "up"


@dataclass(slots=True)
class Outage:
    down_s: float
    phase: Phase = Phase.IDLE
    until: float = 0.0
