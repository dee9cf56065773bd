"""The last audit's report, kept beside the lake for the dashboard: `LAKE_DIR/_audit/latest.json`.

`pipeline audit` writes it after every run (the same document `--json` prints, plus `generated_at`); `pipeline
dashboard` shows its summary when it is there. The folder is outside the lake's data prefix, so queries never read
it. Written atomically (temporary file, fsync, rename): the file is whole or absent.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pipeline.run_record import write_json_atomically

AUDIT_DIR = "_audit"
LATEST = "latest.json"


def audit_record_path(lake_dir: Path) -> Path:
    return Path(lake_dir) / AUDIT_DIR / LATEST


def write_audit_record(lake_dir: Path, report: dict) -> Path:
    """Replace the latest audit report with `report` (+ `generated_at`); return its path."""
    target = audit_record_path(lake_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **report}
    return write_json_atomically(target, doc, indent=1)


def read_audit_record(lake_dir: Path) -> dict | None:
    """The latest audit report, or None when there is none (or it is not a JSON object)."""
    try:
        doc = json.loads(audit_record_path(lake_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
