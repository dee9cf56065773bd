"""`station health` decisions from the status file (the compose healthcheck)."""

from __future__ import annotations

import time
from pathlib import Path

from station.commands import health
from station.status import assess, status_path, write_status


def test_assess_states() -> None:
    now = time.time()
    assert assess({"state": "publishing", "connected": True, "updated_at": now, "acked": 3}, 30, now)[0]
    assert assess({"state": "finished", "updated_at": now - 3600}, 30, now) == (True, "finished")
    assert assess({"state": "publishing", "connected": False, "updated_at": now}, 30, now) == (False,
                                                                                             "not connected")
    stale = assess({"state": "publishing", "connected": True, "updated_at": now - 100}, 30, now)
    assert not stale[0] and "not updated for 100 s" in stale[1]
    failed = assess({"state": "failed", "error": "TLS", "updated_at": now}, 30, now)
    assert failed == (False, "state failed: TLS")


def test_health_command_reads_state_dir(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("THING_NAME", raising=False)
    args = type("Args", (), {"state_dir": tmp_path, "thing_name": None, "max_age": 30.0})()
    assert health.run(args) == 1 and "0 status files" in capsys.readouterr().err
    write_status(status_path(tmp_path, "ws-1"), "publishing", connected=True, acked=5)
    assert health.run(args) == 0 and "healthy: publishing, 5 acknowledged" in capsys.readouterr().out
    args.thing_name = "ws-2"
    assert health.run(args) == 1 and "no status file" in capsys.readouterr().err
