"""LOOP, START_AT, TIME_MODE=shifted and LOG_FORMAT=json, with a real broker and station process."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timezone
from pathlib import Path

import pytest

from isd_decoder import read_isd
from tests.support.broker import TlsBroker
from tests.support.station import StationProcess, monitor, station_environment


@pytest.fixture()
def twenty_lines(small_file: Path, tmp_path: Path) -> Path:
    source = small_file
    path = tmp_path / "twenty.txt"
    path.write_bytes(b"".join(source.read_bytes().splitlines(keepends=True)[:20]))
    return path


def start(broker: TlsBroker, thing: str, tmp_path: Path, data: Path, **extra: str) -> StationProcess:
    values = broker.station_env(broker.identity(thing), DATA_FILE=str(data), STATE_DIR=str(tmp_path / "state"))
    values.update(extra)
    return StationProcess(station_environment(**values))


def test_loop_from_start_at_with_json_logs(tls_broker: TlsBroker, tmp_path: Path, twenty_lines: Path) -> None:
    records = list(read_isd(twenty_lines))
    start_at = records[12].time
    with monitor(tls_broker, tmp_path) as sub:
        station = start(tls_broker, "ws-loop", tmp_path, twenty_lines, INTERVAL="0.01", LOOP="true",
                        START_AT=start_at.isoformat(), LOG_FORMAT="json", PROGRESS_INTERVAL="0.3")
        try:
            assert sub.wait_count(40, timeout=20), station.output
            station.signal(signal.SIGTERM)
            assert station.wait(15) == 0, station.output
        finally:
            station.kill()
        messages = sub.messages()
    expected = [r.time.isoformat() for r in records[12:]] + [r.time.isoformat() for r in records] * 3
    assert [m["time"] for m in messages] == expected[: len(messages)]  # START_AT, then whole passes
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))  # seq keeps growing across passes
    events = [json.loads(line) for line in station.lines]  # every line is one JSON object
    kinds = {e["event"] for e in events}
    assert {"start", "connected", "progress", "loop", "signal", "summary"} <= kinds
    progress = next(e for e in events if e["event"] == "progress")
    assert {"published", "acked", "failed", "rate", "percent", "observation"} <= progress.keys()
    summary = events[-1]
    assert summary["event"] == "summary" and summary["reason"] == "SIGTERM" and summary["passes"] >= 1


def test_shifted_time_follows_the_wall_clock(tls_broker: TlsBroker, tmp_path: Path, twenty_lines: Path) -> None:
    with monitor(tls_broker, tmp_path) as sub:
        station = start(tls_broker, "ws-shifted", tmp_path, twenty_lines, INTERVAL="0.05", TIME_MODE="shifted")
        assert station.wait(30) == 0, station.output
        assert sub.wait_count(20, timeout=10)
        messages = sub.messages()
    times = [datetime.fromisoformat(m["time"]) for m in messages]
    sent = [datetime.fromisoformat(m["sent_at"]) for m in messages]
    assert all(abs((t - s).total_seconds()) < 0.5 for t, s in zip(times, sent, strict=True))
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert all(abs(g - 0.05) < 0.0015 for g in gaps), gaps  # the schedule itself, exact to the millisecond
    assert abs((datetime.now(timezone.utc) - times[-1]).total_seconds()) < 10


def test_max_rate_caps_an_unthrottled_replay(tls_broker: TlsBroker, tmp_path: Path, twenty_lines: Path) -> None:
    with monitor(tls_broker, tmp_path) as sub:
        station = start(tls_broker, "ws-rate", tmp_path, twenty_lines, INTERVAL="0", MAX_RATE="20")
        assert station.wait(30) == 0, station.output
        assert sub.wait_count(20, timeout=10)
        sent = [datetime.fromisoformat(m["sent_at"]) for m in sub.messages()]
    span = (sent[-1] - sent[0]).total_seconds()
    assert 0.93 <= span <= 1.2, span  # 19 gaps of 1/20 s: 0.95 s, never faster
    assert "max_rate=20/s" in station.wait_line(r"\bstart\b")
