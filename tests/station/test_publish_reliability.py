"""Reliability with a real broker and a real station process: broker outage, SIGTERM, kill -9 and resume."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from isd_decoder import read_isd
from tests.conftest import SMALL_FILE_LINES
from tests.support.broker import TlsBroker
from tests.support.certs import TestCA
from tests.support.station import StationProcess, fields, monitor, replay_env

pytestmark = [pytest.mark.slow]

@pytest.fixture(scope="module")
def own_broker(docker_engine: None, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A broker of this module only: the outage test stops and starts it."""
    with TlsBroker(tmp_path_factory.mktemp("outage-broker"), test_ca) as broker:
        yield broker


def test_broker_outage_loses_nothing(own_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    """Broker stopped for 10 s mid-replay, then started again: every seq arrives (duplicates allowed)."""
    total = sum(1 for _ in read_isd(small_file))
    env = replay_env(own_broker, "ws-outage", tmp_path, small_file, INTERVAL="0.01")
    with monitor(own_broker, tmp_path) as sub:
        station = StationProcess(env)
        try:
            assert sub.wait_count(100, timeout=30), station.output
            own_broker.stop()
            time.sleep(10)
            own_broker.start()
            assert station.wait(90) == 0, station.output
            assert sub.wait_for(lambda p: {json.loads(x)["seq"] for x in p} >= set(range(1, total + 1)),
                                timeout=30), "missing seq: " + str(
                sorted(set(range(1, total + 1)) - {m["seq"] for m in sub.messages()})[:20])
        finally:
            station.kill()
    assert "disconnected" in station.output and "reconnects=1" in station.output
    summary = fields(station.wait_line("summary"))
    assert summary["acknowledged"] == str(total) and summary["failed"] == "0"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_summarises_and_exits_zero(tls_broker: TlsBroker, tmp_path: Path, small_file: Path,
                                                 signum: signal.Signals) -> None:
    env = replay_env(tls_broker, f"ws-{signum.name.lower()}", tmp_path, small_file, INTERVAL="0.02")
    with monitor(tls_broker, tmp_path) as sub:
        station = StationProcess(env)
        try:
            assert sub.wait_count(50, timeout=30), station.output
            health = StationProcess(env, "health")
            assert health.wait() == 0 and "healthy: publishing" in health.output
            started = time.monotonic()
            station.signal(signum)
            assert station.wait(15) == 0, station.output
            assert time.monotonic() - started < 8.0  # DRAIN_TIMEOUT 5 s at most, plus process exit
        finally:
            station.kill()
        summary = fields(station.wait_line("summary"))
        time.sleep(0.3)
        received = sub.messages()
    assert summary["reason"] == signum.name and summary["failed"] == "0"
    published = int(summary["published"])
    assert 50 <= published < SMALL_FILE_LINES and summary["acknowledged"] == str(published)
    assert [m["seq"] for m in received] == list(range(1, published + 1))
    stopped = StationProcess(env, "health")
    assert stopped.wait() == 1 and "state stopped" in stopped.output


def test_kill_9_then_restart_resumes_after_checkpoint(tls_broker: TlsBroker, tmp_path: Path,
                                                      small_file: Path) -> None:
    total = sum(1 for _ in read_isd(small_file))
    env = replay_env(tls_broker, "ws-kill", tmp_path, small_file, INTERVAL="0.01", CHECKPOINT_INTERVAL="0.2")
    checkpoint_file = tmp_path / "state" / "ws-kill.checkpoint.json"
    with monitor(tls_broker, tmp_path) as sub:
        first = StationProcess(env)
        try:
            assert sub.wait_count(150, timeout=30), first.output
        finally:
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
        saved = json.loads(checkpoint_file.read_text())
        assert 50 <= saved["seq"] < total and saved["line"] == saved["seq"]  # one record per line here
        # What the broker took before the kill is still on its way to the monitor; counted before it arrived, it
        # would look like the second run's first messages (seen under load: "resumed" at 151 after checkpoint 136).
        before = sub.wait_quiet()
        second = StationProcess(dict(env, INTERVAL="0"))
        assert second.wait(60) == 0, second.output
        assert sub.wait_for(lambda p: len(p) >= before + total - saved["seq"], timeout=20)
        messages = sub.messages()
    resumed = messages[before:]
    assert "resuming after line" in second.output
    assert resumed[0]["seq"] == saved["seq"] + 1  # continues right after the checkpoint, no gap
    assert [m["seq"] for m in resumed] == list(range(saved["seq"] + 1, total + 1))
    assert {m["seq"] for m in messages} == set(range(1, total + 1))  # nothing missing overall
    by_seq: dict[int, str] = {}
    for m in messages:  # a duplicate (sent before the kill, acknowledged after the checkpoint) is the same record
        assert by_seq.setdefault(m["seq"], m["time"]) == m["time"]
