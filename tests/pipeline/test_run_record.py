"""The lake writer's final counts kept under the lake (`LAKE_DIR/_runs/`), outside what queries read."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from pipeline.lake import lake_files
from pipeline.run_record import latest_run, runs_dir, write_run_record


def test_each_run_gets_its_own_whole_file_and_the_latest_is_found(tmp_path: Path) -> None:
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    first = write_run_record(tmp_path, started, {"received": 10, "duplicates_dropped": 1}, client_id="monitor-lake")
    second = write_run_record(tmp_path, started, {"received": 7, "duplicates_dropped": 0}, client_id="monitor-lake")
    assert first != second and first.parent == second.parent == runs_dir(tmp_path) == tmp_path / "_runs"
    assert json.loads(first.read_text())["received"] == 10
    assert json.loads(first.read_text())["started_at"] == "2026-01-02T03:04:05+00:00"
    latest = latest_run(tmp_path)
    assert latest is not None and latest["received"] == 7 and latest["client_id"] == "monitor-lake"
    assert not [p for p in runs_dir(tmp_path).iterdir() if p.suffix != ".json"]  # no temporary file left
    assert lake_files(tmp_path / "sensor" / "weather") == [] and lake_files(tmp_path) == []  # never lake data


def test_no_run_yet(tmp_path: Path) -> None:
    assert latest_run(tmp_path) is None
