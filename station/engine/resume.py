"""Where a station's replay starts: the one reading of its checkpoint, for every host.

- no checkpoint (or an unreadable one): line START_OFFSET + 1 with seq 1; START_AT applies when START_OFFSET is 0;
- the checkpoint of another file or thing: line 1 again, seq continues (it never goes back);
- a checkpoint mid-file: after its line, with its seq + 1 (START_OFFSET and START_AT no longer apply);
- a finished checkpoint: nothing to replay (None), unless LOOP is on: then the next pass starts at line 1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from station import checkpoint as ckpt
from station.engine.ledger import Ack
from station.logging_setup import emit

log = logging.getLogger("station.engine")


@dataclass(frozen=True)
class StartPoint:
    """Lines up to `skip_through` are left out; the first message gets `seq`; `start_at` (a fresh start only)."""

    skip_through: int
    seq: int
    passes: int = 0
    last_ack: Ack | None = None
    start_at: datetime | None = None
    resumed: bool = False


def start_point(checkpoint_file: Path, *, thing_name: str, data_file: Path, fingerprint: str, start_offset: int,
                start_at: datetime | None, loop: bool, level: int = logging.INFO,
                **fields: Any) -> StartPoint | None:
    """The start point (see module docstring); `level` is that of the `resume` line, `fields` go on every line."""
    try:
        saved = ckpt.load(checkpoint_file)
    except ckpt.CheckpointError as exc:
        emit(log, logging.WARNING, "checkpoint-reset", f"{exc}; starting over at line 1", **fields)
        saved = None
    if saved is None:
        return StartPoint(start_offset, 1, start_at=start_at if start_offset == 0 else None)
    if saved.thing_name != thing_name or saved.fingerprint != fingerprint:
        why = ("data file changed since the checkpoint" if saved.thing_name == thing_name
               else f"the checkpoint belongs to thing {saved.thing_name}")
        emit(log, logging.WARNING, "checkpoint-reset", f"{why}: starting over at line 1, seq continues", **fields,
             checkpoint_file=saved.data_file, checkpoint_fingerprint=saved.fingerprint, data_file=str(data_file),
             fingerprint=fingerprint, next_seq=saved.seq + 1)
        return StartPoint(0, saved.seq + 1, start_at=start_at)
    last = (saved.seq, saved.line, saved.passes)
    if saved.finished and not loop:
        return None
    if saved.finished:
        emit(log, level, "loop", f"the checkpoint says the file was replayed; LOOP: pass {saved.passes + 2} starts",
             **fields, next_seq=saved.seq + 1)
        return StartPoint(0, saved.seq + 1, saved.passes + 1, last)
    emit(log, level, "resume", f"resuming after line {saved.line}", **fields, line=saved.line,
         next_seq=saved.seq + 1, passes=saved.passes)
    return StartPoint(saved.line, saved.seq + 1, saved.passes, last, resumed=True)
