"""A lane's states (`station.engine.lane.Lane.state`), in a module of their own: the healthcheck's status rule
(`station.group.status`) needs them without importing the engine and awscrt."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["LaneState"]


class LaneState(StrEnum):
    WAITING = "waiting"          # not connected yet (its connect slot has not come)
    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    DRAINING = "draining"        # end of file: waiting for the last PUBACKs
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (LaneState.FINISHED, LaneState.STOPPED, LaneState.FAILED)
