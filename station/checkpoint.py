"""The replay checkpoint: the last line and seq the broker acknowledged, tied to a fingerprint of the data file.

Written atomically (temporary file in the same folder, fsync, `os.replace`), so a `kill -9` leaves either the old
or the new checkpoint, never a torn one. A restarted station resumes after `line` with `seq + 1`; when the data
file's fingerprint changed, it starts over at line 1 (seq still continues, it never goes back).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from station.errors import StationError

CHECKPOINT_VERSION = 1


class Checkpoint(BaseModel):
    """Progress that survives a restart."""

    model_config = ConfigDict(extra="forbid")

    version: int = CHECKPOINT_VERSION
    thing_name: str
    data_file: str
    fingerprint: str
    line: int  # last acknowledged line (1-based) of the current pass, 0 when none yet
    seq: int  # seq of that message (the next message gets seq + 1)
    passes: int = 0  # completed passes over the file (LOOP)
    finished: bool = False  # the whole file was acknowledged (no LOOP)


def fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    """`sha256:<hex>` of the file's bytes (as stored, compressed or not)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def checkpoint_path(state_dir: Path, thing_name: str) -> Path:
    return Path(state_dir) / f"{thing_name}.checkpoint.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (readers see the old or the new content, never a mix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save(path: Path, checkpoint: Checkpoint) -> None:
    atomic_write_text(path, checkpoint.model_dump_json(indent=1) + "\n")


class CheckpointError(StationError):
    """The checkpoint file exists but cannot be used."""


def load(path: Path) -> Checkpoint | None:
    """The checkpoint at `path`, None when there is none; CheckpointError when it is unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return Checkpoint.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise CheckpointError(f"unreadable checkpoint {path}: {exc.__class__.__name__}") from None
