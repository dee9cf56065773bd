"""Run the station as a real subprocess (`python -m station ...`) and watch its log lines."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from testbed.broker import MONITOR, TlsBroker
from testbed.mqtt import Subscriber

REPO_ROOT = Path(__file__).resolve().parents[1]
STATION_VARS = ("THING_NAME", "TARGET", "MQTT_HOST", "MQTT_PORT", "IDENTITY_DIR", "DATA_FILE", "TOPIC", "SPEEDUP",
                "INTERVAL", "MAX_RATE", "LOOP", "START_AT", "TIME_MODE", "STATE_DIR", "LOG_FORMAT", "LOG_LEVEL",
                "DRAIN_TIMEOUT", "PROGRESS_INTERVAL", "CONNECT_TIMEOUT", "MAX_INFLIGHT", "KEEP_ALIVE",
                "SESSION_EXPIRY", "CHECKPOINT_INTERVAL", "PRELOAD", "DECODE_AHEAD", "FLEET_DIR", "FAULTS",
                "METRICS_PORT", "METRICS_PER_STATION")


def station_environment(**values: str) -> dict[str, str]:
    """os.environ without any station variable, plus `values` (so a developer's shell cannot leak in).

    Run the station with `cwd` outside the repository (StationProcess does) so a developer's `.env` is not read.
    """
    env = {k: v for k, v in os.environ.items() if k not in STATION_VARS}
    env["PYTHONUNBUFFERED"] = "1"
    env["METRICS_PORT"] = "0"  # no metrics server unless a test asks (parallel stations would share 9101)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    env.update({k: str(v) for k, v in values.items()})
    return env


class StationProcess:
    """`python -m station <command>` in the repository root, stderr collected line by line."""

    def __init__(self, env: dict[str, str], command: str = "run", *args: str, cwd: Path | None = None) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._cwd = None if cwd is not None else tempfile.TemporaryDirectory(prefix="station-cwd-")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station", command, *args], cwd=cwd or self._cwd.name,  # type: ignore[union-attr]
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_line(self, pattern: str, timeout: float = 30.0) -> str:
        """The first log line matching regex `pattern`; AssertionError with the log when none came in time."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))
                self._cond.wait(min(remaining, 0.2))

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("station did not exit in time:\n" + self.output) from None
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def fields(line: str) -> dict[str, str]:
    """key=value pairs of a text log line."""
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


def replay_env(broker: TlsBroker, thing: str, tmp_path: Path, data_file: Path, **extra: str) -> dict[str, str]:
    """Environment of a station replaying `data_file` to `broker` as `thing`, its state under `tmp_path`."""
    values = broker.station_env(broker.identity(thing), DATA_FILE=str(data_file), STATE_DIR=str(tmp_path / "state"),
                                PROGRESS_INTERVAL="1", CONNECT_TIMEOUT="10")
    values.update(extra)
    return station_environment(**values)


def monitor(broker: TlsBroker, tmp_path: Path, topic: str = "sensor/weather") -> Subscriber:
    """A subscriber with the read-only monitor identity, its own client id per test."""
    ident = broker.ca.issue_client(MONITOR, tmp_path / "monitor")
    return Subscriber(broker.host, broker.port, ident, topic=topic, client_id=f"monitor-watch-{tmp_path.name}")
