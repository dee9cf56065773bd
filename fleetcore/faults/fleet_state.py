"""What the stations' state files say they had acknowledged: the audit's "expected".

Reads, without importing the station package, the two files each station keeps in its STATE_DIR
(`station/checkpoint.py`, `station/status.py`; tests/fleetcore/test_fault_state.py writes them with the station's
own code and reads them back here, so the two stay in step):
- `<thing>.checkpoint.json`: `seq`, the last seq of the contiguous prefix the broker acknowledged (seqs start at
  1 and never go back, across restarts and passes), and `finished`;
- `<thing>.status.json`: the running counts `published`, `acked`, `failed` and the last published `seq`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_SUFFIX = ".checkpoint.json"
STATUS_SUFFIX = ".status.json"


@dataclass(frozen=True)
class StationState:
    thing: str
    acked_through: int  # every seq in 1..acked_through was acknowledged by the broker (0: none)
    finished: bool
    published: int | None = None  # from the status file, when there is one
    acked: int | None = None
    failed: int | None = None
    last_seq: int | None = None


def _read(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def read_station_states(folders: Iterable[Path]) -> dict[str, StationState]:
    """Every station with a checkpoint in `folders` (searched recursively), by thing name."""
    states: dict[str, StationState] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob(f"*{CHECKPOINT_SUFFIX}")):
            checkpoint = _read(path)
            if checkpoint is None or not isinstance(checkpoint.get("seq"), int):
                continue
            thing = str(checkpoint.get("thing_name") or path.name.removesuffix(CHECKPOINT_SUFFIX))
            status = _read(path.with_name(f"{thing}{STATUS_SUFFIX}")) or {}
            states[thing] = StationState(thing, checkpoint["seq"], bool(checkpoint.get("finished")),
                                         status.get("published"), status.get("acked"), status.get("failed"),
                                         status.get("seq"))
    return states
