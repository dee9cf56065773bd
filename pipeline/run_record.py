"""The lake writer's final counts, kept in the lake: `LAKE_DIR/_runs/<stopped-at>.json`, one file per run.

A compose container's log goes with the container (`make lake-down` removes it), so the counts a run ends with
(received, duplicates dropped, ...) are also written here, beside the lake they describe. The folder is outside
the lake's data prefix (`LAKE_DIR/<prefix>/YYYY/MM/DD/HH/`), so queries never read it. Written atomically
(temporary file, fsync, rename): a file is whole or absent.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

RUNS_DIR = "_runs"


def runs_dir(lake_dir: Path) -> Path:
    return Path(lake_dir) / RUNS_DIR


def write_run_record(lake_dir: Path, started_at: datetime, counts: dict[str, Any], **details: Any) -> Path:
    """Write one run's `counts` (and `details`: client id, topic, ...) to a new file; return its path."""
    stopped_at = datetime.now(timezone.utc)
    folder = runs_dir(lake_dir)
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"started_at": started_at.isoformat(timespec="seconds"),
           "stopped_at": stopped_at.isoformat(timespec="seconds"), **details, **counts}
    stem = stopped_at.strftime("%Y%m%dT%H%M%S.%fZ")
    target = folder / f"{stem}.json"
    return write_json_atomically(target, doc, indent=2)


def write_json_atomically(target: Path, doc: Any, indent: int = 2) -> Path:
    """`doc` as JSON in `target`: a temporary file beside it, fsync, rename (whole or absent); returns `target`."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=indent) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def latest_run(lake_dir: Path) -> dict[str, Any] | None:
    """The newest run record of the lake, or None."""
    files = sorted(runs_dir(lake_dir).glob("*.json"))
    return json.loads(files[-1].read_text(encoding="utf-8")) if files else None
