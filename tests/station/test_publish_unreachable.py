"""An unreachable broker ends a run in one clear line and the summary, with no traceback, within CONNECT_TIMEOUT
plus at most 2 s (issue 10, item 4): a refused port, a listener that never answers the TLS handshake, a host name
that does not resolve. And a configuration error ends in its lines and the summary too, exit code 2."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from station.exit_codes import ExitCode
from tests.support.certs import TestCA
from tests.support.station import StationProcess, fields, station_environment

CONNECT_TIMEOUT = 3.0


@pytest.fixture()
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (no TLS handshake, no CONNACK)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


def refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


def _wall(line: str) -> float:
    return datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")).timestamp()


def _run(tmp_path: Path, small_file: Path, host: str, port: int) -> tuple[StationProcess, int, float]:
    ident = TestCA(tmp_path / "ca").issue_client("ws-away", tmp_path / "id")
    env = station_environment(THING_NAME=ident.name, MQTT_HOST=host, MQTT_PORT=str(port),
                              IDENTITY_DIR=str(ident.directory), DATA_FILE=str(small_file),
                              STATE_DIR=str(tmp_path / "state"), CONNECT_TIMEOUT=str(CONNECT_TIMEOUT))
    station = StationProcess(env)
    code = station.wait(60)
    ended = time.time()
    started = _wall(station.wait_line(r"INFO  start\b"))
    return station, code, ended - started


@pytest.mark.slow  # end to end in subprocesses: `make test` runs it, `make test-quick` does not
@pytest.mark.parametrize("where", ["refused", "silent", "unresolvable"])
def test_unreachable_broker_one_line_summary_no_traceback_bounded_time(
        tmp_path: Path, small_file: Path, silent_listener: int, where: str) -> None:
    host, port = {"refused": ("127.0.0.1", refused_port()), "silent": ("127.0.0.1", silent_listener),
                  "unresolvable": ("no-such-host.invalid", 8883)}[where]
    station, code, elapsed = _run(tmp_path, small_file, host, port)
    out = station.output
    assert code == ExitCode.CONNECT_FAILED, out
    assert "Traceback" not in out and "KeyError" not in out, out
    errors = [line for line in station.lines if " ERROR " in line]
    assert len(errors) == 1, out
    assert f"could not connect to {host}:{port} as ws-away within {CONNECT_TIMEOUT:g} s" in errors[0]
    hint = {"refused": "connection refused", "silent": "no answer from the broker",
            "unresolvable": "MQTT_HOST does not resolve"}[where]
    assert hint in errors[0], errors[0]
    assert station.lines[-1].split()[2] == "summary" and fields(station.lines[-1])["reason"] == "connect-failed"
    # from the start line (after the imports) to the process's end: CONNECT_TIMEOUT and little more
    assert CONNECT_TIMEOUT - 0.2 <= elapsed <= CONNECT_TIMEOUT + 1.5, (elapsed, out)
    status = json.loads((tmp_path / "state" / "ws-away.status.json").read_text())
    assert status["state"] == "failed" and "could not connect" in status["error"]
    health = StationProcess(station_environment(STATE_DIR=str(tmp_path / "state"), THING_NAME="ws-away"),
                            "health")
    assert health.wait() == 1 and "unhealthy: state failed: could not connect" in health.output


def test_configuration_error_ends_in_its_lines_and_the_summary(tmp_path: Path) -> None:
    env = station_environment(THING_NAME="ws-conf", DATA_FILE=str(tmp_path / "none.gz"), SPEEDUP="3600",
                              INTERVAL="x", IDENTITY_DIR=str(tmp_path / "id"), STATE_DIR=str(tmp_path / "state"))
    station = StationProcess(env)
    assert station.wait() == ExitCode.CONFIG
    out = station.output
    assert "Traceback" not in out
    errors = [line for line in station.lines if " ERROR " in line]
    assert len(errors) == 1 and "invalid INTERVAL='x'" in errors[0], out
    summary = fields(station.lines[-1])
    assert station.lines[-1].split()[2] == "summary" and summary["reason"] == "config-error"
    assert summary["exit_code"] == "2" and summary["problems"] == "1"
