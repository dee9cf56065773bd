"""The group's status file (`$STATE_DIR/group.status.json`) and the health rule `station health` applies to it.

Health rule: a group is healthy while its status is fresh (updated within --max-age seconds) and at least one of
its stations has not failed; a group whose stations are all failed, or whose status went stale (process hung or
gone), is unhealthy. Failed stations are listed in the status file and the logs, so one refused certificate
never marks the other 999 stations' container unhealthy.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Any

from station.engine.states import LaneState

GROUP_STATUS_FILE = "group.status.json"


class GroupState(StrEnum):
    """The `state` of the group status file (per-station states are `station.engine.lane.LaneState`)."""

    STARTING = "starting"
    RUNNING = "running"    # some stations connecting or publishing
    FINISHED = "finished"  # every station finished or failed
    STOPPED = "stopped"    # stopped by a signal
    FAILED = "failed"      # every station failed


def group_status_path(state_dir: Path) -> Path:
    return Path(state_dir) / GROUP_STATUS_FILE


def assess_group(status: dict[str, Any], max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, reason) for a group status document (see module docstring)."""
    now = time.time() if now is None else now
    counts: dict[str, int] = status.get("states", {})
    stations = int(status.get("stations", 0))
    failed = int(counts.get(LaneState.FAILED, 0))
    text = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()) if n)
    if stations and failed >= stations:
        return False, f"all {stations} stations failed" + (f" (first: {status['failures'][0]})"
                                                             if status.get("failures") else "")
    age = now - float(status.get("updated_at", 0))
    if age > max_age and status.get("state") != GroupState.FINISHED:
        return False, f"group status not updated for {age:.0f} s (process hung or gone)"
    return True, f"group of {stations}: {text}" + (f"; {status.get('connected', 0)} connected")
