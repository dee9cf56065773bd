"""`station health` decisions from the status file (the compose healthcheck)."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_a_station_that_cannot_connect_exits_1_with_a_failed_status(tmp_path: Path, monkeypatch) -> None:
    """Regression: when the first connection failed, writing the `failed` status raised (the error field was
    given twice), so `station run` died with a traceback instead of exit 1, and health saw no `failed` state."""
    import socket

    from station.exit_codes import StopReason
    from station.replay import Replay
    from station.settings import load_settings
    from station.status import State, read_status
    from tests.support.certs import TestCA

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    identity = TestCA(tmp_path / "pki").issue_client("ws-down", tmp_path / "id")
    data = tmp_path / "one.txt"
    data.write_text("")
    monkeypatch.chdir(tmp_path)
    for name, value in {"THING_NAME": "ws-down", "MQTT_HOST": "127.0.0.1", "MQTT_PORT": str(port),
                        "IDENTITY_DIR": str(identity.directory), "DATA_FILE": str(data),
                        "STATE_DIR": str(tmp_path / "state"), "CONNECT_TIMEOUT": "1"}.items():
        monkeypatch.setenv(name, value)
    replay = Replay(load_settings())
    assert replay.run() == 1
    assert replay.summary.reason == StopReason.CONNECT_FAILED
    status = read_status(status_path(tmp_path / "state", "ws-down"))
    assert status["state"] == State.FAILED and "could not connect" in status["error"]
    assert assess(status, 30) == (False, f"state failed: {status['error']}")


def test_the_healthcheck_imports_neither_awscrt_nor_pydantic(tmp_path: Path) -> None:
    """Regression (issue 22): `station health` imported every subcommand (awscrt, pydantic-settings, the decoder),
    about 0.35 CPU-s per check; ten group containers checked every 15 s took a tenth of this 2-core host."""
    (tmp_path / "group.status.json").write_text('{"state": "running", "stations": 1, "states": {}, "updated_at": 0}')
    code = ("import sys; from station.cli import main; rc = main(['health', '--state-dir', sys.argv[1]]); "
            "print(rc, sorted(m for m in ('awscrt', 'pydantic', 'pydantic_settings', 'isd_decoder') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "SHARD_FILE": "x"})
    assert out.stdout.strip().splitlines()[-1] == "1 []", out.stdout + out.stderr
