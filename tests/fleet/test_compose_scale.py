"""End to end on a real Docker engine: `make up FLEET_COUNT=12` runs twelve stations (compose.yaml's five and the
generated override's seven); the monitor hears all twelve; shrinking to three removes the others; `make down`.

Goes through the Makefile itself (register, images, up) with its own project name, FLEET_DIR and broker port.
"""

from __future__ import annotations

import json
import queue
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.topic import monitor_filter
from fleetcore.manifest import load_manifest
from provisioning.mqtt import IdentityClient
from tests.support.compose_fleet import ComposeFleet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

COUNT = 12
NOT_AUTHORIZED = 0x87
STATION_ENV = {"SPEEDUP": "12000", "PROGRESS_INTERVAL": "5", "LOG_FORMAT": "text", "LOOP": "false",
               "TIME_MODE": "original", "TOPIC": "sensor/weather"}


@pytest.fixture(scope="module")
def fleet(docker_engine: None, station_years_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeFleet]:
    f = ComposeFleet(tmp_path_factory.mktemp("scale"), station_years_dir, **STATION_ENV)
    try:
        out = f.make("up", f"FLEET_COUNT={COUNT}", timeout=400)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        yield f
    finally:
        f.teardown()


def test_make_up_runs_every_registered_station(fleet: ComposeFleet) -> None:
    stations = load_manifest(fleet.fleet_dir).stations()
    assert len(stations) == COUNT
    assert (fleet.fleet_dir / "compose.stations.yaml").is_file()
    assert fleet.running_services() == sorted(["broker", *(f"station-{i}" for i in range(1, COUNT + 1))])


def test_monitor_receives_messages_from_all_twelve(fleet: ComposeFleet) -> None:
    expected = {t.thing_name for t in load_manifest(fleet.fleet_dir).stations()}
    seqs: dict[str, list[int]] = defaultdict(list)
    client = IdentityClient(fleet.fleet_dir / "things" / "monitor", "127.0.0.1", fleet.port, retry=True)
    with client:
        assert client.wait_connected(30), client.connect_error
        assert [int(c) for c in client.subscribe(monitor_filter(STATION_ENV["TOPIC"]))] == [1]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (set(seqs) != expected or min(len(v) for v in seqs.values()) < 3):
            try:
                msg = client.messages.get(timeout=1)
            except queue.Empty:
                continue
            doc = json.loads(msg.payload)
            assert doc["thing_name"] in expected, doc["thing_name"]
            seqs[doc["thing_name"]].append(doc["seq"])
    silent = sorted(expected - set(seqs))
    assert not silent, f"nothing from {silent} in 90 s"
    for thing, values in seqs.items():
        assert len(values) >= 3, f"{thing}: only {len(values)} messages"
        assert all(b > a for a, b in zip(values, values[1:])), f"{thing}: seq not increasing: {values[:30]}"


def test_generated_station_is_confined_like_the_lab_ones(fleet: ComposeFleet) -> None:
    cid = fleet.container_id(f"station-{COUNT}")
    fmt = ("{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.RestartPolicy.Name}}"
           " {{.HostConfig.RestartPolicy.MaximumRetryCount}}")
    out = subprocess.run(["docker", "inspect", "-f", fmt, cid], capture_output=True, text=True, timeout=30)
    user, readonly, capdrop, restart, retries = out.stdout.split()
    assert not user.startswith(("0:", "root")) and readonly == "true" and "ALL" in capdrop
    assert (restart, retries) == ("on-failure", "3")  # bounded, as compose.yaml's stations


def test_shrinking_removes_the_extra_stations_then_make_down_and_clean(fleet: ComposeFleet) -> None:
    out = fleet.make("up", "FLEET_COUNT=3", timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert not (fleet.fleet_dir / "compose.stations.yaml").exists()
    assert fleet.running_services() == ["broker", "station-1", "station-2", "station-3"]

    # Registering more while the broker runs: its ACL copy is stale until `make broker-reload` (which `make up`
    # runs), and then the new station may publish, without restarting the broker.
    out = fleet.make("register", "FLEET_COUNT=5")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    broker_started = fleet.started_at("broker")
    assert _publish_as(fleet, "weather-station-5") == NOT_AUTHORIZED
    out = fleet.make("broker-reload")
    assert out.returncode == 0 and "reloading its ACL" in out.stdout, out.stdout + out.stderr
    assert _publish_as(fleet, "weather-station-5") < 0x80  # success (0x10: no subscriber matched)
    assert fleet.started_at("broker") == broker_started

    out = fleet.make("down")
    assert out.returncode == 0, out.stdout + out.stderr
    assert fleet.containers() == []
    # The state volumes of stations 6..12 outlive the shrink (checkpoints, as after `down`) until `make clean`.
    assert "station-12-state" in " ".join(fleet.volumes())
    out = fleet.make("clean", "YES=1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert fleet.volumes() == [] and not fleet.fleet_dir.exists()


def _publish_as(fleet: ComposeFleet, thing: str) -> int:
    """The PUBACK reason code of one QoS 1 publish to sensor/weather with `thing`'s identity (< 0x80: accepted)."""
    client = IdentityClient(fleet.fleet_dir / "things" / thing, "127.0.0.1", fleet.port, client_id=thing)
    with client:
        assert client.wait_connected(20), client.connect_error
        return int(client.publish("sensor/weather", b'{"probe": true}'))
