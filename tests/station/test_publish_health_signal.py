"""A single station's health across a SIGTERM (the replay behaviours of both hosting modes: test_hosting_modes)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.broker import TlsBroker
from tests.support.station import StationProcess, replay_env

pytestmark = [pytest.mark.slow]

def test_health_is_publishing_then_stopped_after_sigterm(tls_broker: TlsBroker, tmp_path: Path,
                                                         small_file: Path) -> None:
    env = replay_env(tls_broker, "ws-health-stop", tmp_path, small_file, INTERVAL="0.02")
    station = StationProcess(env)
    try:
        station.wait_line(r"INFO  progress ", 30)
        health = StationProcess(env, "health")
        assert health.wait() == 0 and "healthy: publishing" in health.output
        station.signal(signal.SIGTERM)
        assert station.wait(15) == 0, station.output
    finally:
        station.kill()
    stopped = StationProcess(env, "health")
    assert stopped.wait() == 1 and "state stopped" in stopped.output
