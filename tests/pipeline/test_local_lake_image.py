"""The lake writer's container image (docker/pipeline/Dockerfile, the compose `lake` service) against a real
Mosquitto: it subscribes with a mounted monitor identity, writes the lake into a mounted folder, and `docker stop`
(SIGTERM) flushes before it exits 0.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.publisher import publish_all
from tests.support.synthetic import message
from tests.pipeline.test_local_lake import keys, read_lake

pytestmark = [pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[2]
# PIPELINE_IMAGE as compose.pipeline.yaml reads it; parallel checkouts on one engine each set their own tag.
IMAGE = os.environ.get("PIPELINE_IMAGE") or "weather-fleet/pipeline:test"


def docker(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image(docker_engine: None) -> str:
    base = os.environ.get("BASE_IMAGE", "python:3.12-slim")
    build = docker("build", "-q", "-f", "docker/pipeline/Dockerfile", "--build-arg", f"BASE_IMAGE={base}",
                   "-t", IMAGE, str(REPO_ROOT))
    assert build.returncode == 0, build.stderr[-3000:]
    return IMAGE


def test_lake_container_writes_and_flushes_on_stop(image: str, tls_broker, tmp_path: Path) -> None:
    import json

    monitor = tls_broker.identity("monitor", tmp_path / "monitor")
    station = tls_broker.identity("weather-station-9", tmp_path / "station")
    lake = tmp_path / "lake"
    lake.mkdir()
    name = f"monitor-lake-test-{uuid.uuid4().hex[:8]}"
    run = docker("run", "-d", "--name", name, "--network", "host", "--user", f"{os.getuid()}:{os.getgid()}",
                 "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                 "-e", "MQTT_HOST=localhost", "-e", f"MQTT_PORT={tls_broker.port}",
                 "-e", f"LAKE_CLIENT_ID={name}", "-e", "LAKE_BUFFER_SECONDS=600",
                 "-v", f"{monitor.directory}:/identity:ro", "-v", f"{lake}:/lake", image)
    assert run.returncode == 0, run.stderr
    try:
        deadline = time.monotonic() + 60
        while "subscribed to sensor/weather" not in docker("logs", name).stderr:
            assert time.monotonic() < deadline, docker("logs", name).stderr
            time.sleep(0.2)
        payloads = [json.dumps(message("weather-station-9", seq, -6.0 - seq % 3)).encode() for seq in range(50)]
        publish_all(tls_broker.host, tls_broker.port, station, payloads)
        time.sleep(1.0)
        assert read_lake(lake) == [], "a 600 s buffer holds everything until the stop"
        stop = docker("stop", "-t", "30", name)
        assert stop.returncode == 0, stop.stderr
        state = docker("inspect", "-f", "{{.State.ExitCode}}", name)
        logs = docker("logs", name).stderr
        assert state.stdout.strip() == "0", logs
        assert "lake writer stopped: 50 received" in logs, logs
        assert keys(read_lake(lake)) == {("weather-station-9", seq): 1 for seq in range(50)}
        assert (lake / "cold_readings.sqlite3").is_file()
    finally:
        docker("rm", "-f", name)
    # The final counts outlive the container (issue 10): a run record under the lake, named in the last log line.
    runs = sorted((lake / "_runs").glob("*.json"))
    assert len(runs) == 1 and f"kept in /lake/_runs/{runs[0].name}" in logs, logs
    record = json.loads(runs[0].read_text())
    assert record["received"] == 50 and record["duplicates_dropped"] == 0 and record["client_id"] == name
