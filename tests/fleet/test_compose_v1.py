"""Debian's docker-compose 1.29 still parses compose.yaml and starts the fleet.

The other fleet tests use the compose the Makefile picks, Compose v2 (`docker compose`) when it answers, as users
run it; CI installs v2 (.ci/run). This module forces 1.29 once: config, up, five stations publishing, down.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.manifest import load_manifest
from provisioning.mqtt import IdentityClient
from tests.conftest import require
from tests.support.compose_fleet import COMPOSE_V1, ComposeFleet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

STATION_ENV = {"SPEEDUP": "12000", "PROGRESS_INTERVAL": "5", "LOG_FORMAT": "text", "LOOP": "false",
               "TIME_MODE": "original", "TOPIC": "sensor/weather"}


@pytest.fixture(scope="module")
def fleet(docker_engine: None, station_years_dir: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[ComposeFleet]:
    if shutil.which(COMPOSE_V1[0]) is None:
        require("REQUIRE_DOCKER", "Debian's docker-compose 1.29 is not installed (apt-get install docker-compose)")
    f = ComposeFleet(tmp_path_factory.mktemp("compose-v1"), station_years_dir, compose=COMPOSE_V1, **STATION_ENV)
    f.register()
    try:
        yield f
    finally:
        f.teardown()


def test_the_command_is_compose_1_29(fleet: ComposeFleet) -> None:
    out = subprocess.run([*fleet.command, "version", "--short"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("1."), out.stdout + out.stderr


def test_compose_1_29_parses_and_starts_the_fleet(fleet: ComposeFleet) -> None:
    services = set(fleet.compose("config", "--services").stdout.split())
    fleet_services = {"broker", *(f"station-{i}" for i in range(1, 6))}
    # compose.pipeline.yaml's `lake` is listed too (profile `pipeline`: `up` without it does not start it).
    assert fleet_services <= services and services - fleet_services <= {"lake"}, services
    fleet.compose("up", "-d", timeout=600)
    fleet.wait_healthy("broker")
    expected = {t.thing_name for t in load_manifest(fleet.fleet_dir).stations()}
    heard: set[str] = set()
    client = IdentityClient(fleet.fleet_dir / "things" / "monitor", "127.0.0.1", fleet.port, retry=True)
    with client:
        assert client.wait_connected(30), client.connect_error
        assert [int(c) for c in client.subscribe("sensor/#")] == [1]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and heard != expected:
            try:
                heard.add(json.loads(client.messages.get(timeout=1).payload)["thing_name"])
            except queue.Empty:
                continue
    assert heard == expected, f"nothing from {sorted(expected - heard)}"
    fleet.compose("down", "--remove-orphans", "--timeout", "5", timeout=180)
    assert fleet.containers() == []
