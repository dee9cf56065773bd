"""Where the fleet runs: the local Mosquitto broker or AWS IoT Core (the `TARGET` variable)."""

from __future__ import annotations

from enum import StrEnum

from fleetcore.aws_limits import IOT_PUBLISHES_PER_SECOND_PER_CONNECTION

AWS_MAX_RATE = float(IOT_PUBLISHES_PER_SECOND_PER_CONNECTION)
"""AWS IoT Core's publish limit per connection (messages per second): MAX_RATE's default on aws. MAX_RATE=0 means
no cap everywhere (the station's pacing and the cost estimate alike)."""


class Target(StrEnum):
    """`TARGET`: a StrEnum, so settings, manifests, JSON and text show the plain value (`local`, `aws`)."""

    LOCAL = "local"
    AWS = "aws"
