"""The status file the running station keeps in STATE_DIR, read by `station health` (compose healthcheck)."""

from __future__ import annotations

import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Any


class State(StrEnum):
    """The `state` of the status file (a StrEnum: the file holds the plain value)."""

    STARTING = "starting"
    PUBLISHING = "publishing"
    DISCONNECTED = "disconnected"  # publishing, but the connection is down (reconnecting)
    DRAINING = "draining"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


STATES = tuple(State)
HEALTHY_STATES = (State.PUBLISHING, State.FINISHED)


def status_path(state_dir: Path, thing_name: str) -> Path:
    return Path(state_dir) / f"{thing_name}.status.json"


def write_status(path: Path, state: State, **fields: Any) -> None:
    from station.checkpoint import atomic_write_text  # here: `station health` reads only (no pydantic import)

    doc = {"state": state, "pid": os.getpid(), "updated_at": time.time(), **fields}
    atomic_write_text(path, json.dumps(doc, default=str) + "\n")


def read_status(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def assess(status: dict[str, Any], max_age: float, now: float | None = None) -> tuple[bool, str]:
    """(healthy, reason): healthy = connected and publishing with a fresh status, or finished."""
    now = time.time() if now is None else now
    state = status.get("state")
    age = now - float(status.get("updated_at", 0))
    if state == State.FINISHED:
        return True, "finished"
    if state not in HEALTHY_STATES:
        return False, f"state {state}" + (f": {status['error']}" if status.get("error") else "")
    if age > max_age:
        return False, f"status not updated for {age:.0f} s (station hung or gone)"
    if not status.get("connected"):
        return False, "not connected"
    return True, f"publishing, {status.get('acked', 0)} acknowledged"
