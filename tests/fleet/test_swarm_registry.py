"""`REGISTRY=host:port make swarm-up` against a real registry (Debian's `docker-registry`, the CNCF Distribution
registry, on loopback): the images are tagged and pushed there, the stack runs the registry's images (resolved
to their digests, as every node of a real cluster would pull them), and the stations' messages arrive.

The registry's tags that the push left in this engine are removed afterwards.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.support.compose_fleet import free_port
from tests.support.swarm_fleet import SwarmFleet, docker, service_inspect
from tests.support.swarm_fleet import short_data, swarm  # noqa: F401 - module fixtures

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

STATIONS = 2
REGISTRY_CONFIG = """version: 0.1
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read() or b"{}")


@pytest.fixture(scope="module")
def registry(swarm: bool, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry on 127.0.0.1 (Docker treats 127.0.0.0/8 registries as insecure-allowed: no TLS needed)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        require("REQUIRE_DOCKER", "no `docker-registry` (Debian package docker-registry) to push the images to")
    folder = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = folder / "config.yml"
    config.write_text(REGISTRY_CONFIG.format(root=folder / "store", port=port))
    proc = subprocess.Popen([str(binary), "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=open(folder / "registry.log", "wb"))  # noqa: SIM115 - closed with the process
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/v2/")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (folder / "registry.log").read_text()
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def fleet(registry: str, short_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    f = SwarmFleet(tmp_path_factory.mktemp("swarm-registry"), short_data, STATIONS, REGISTRY=registry,
                   LOOP="true")
    try:
        with f.deployed():
            yield f
    finally:
        tags = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
        ours = [t for t in tags if t.startswith(f"{registry}/")]
        if ours:
            docker("rmi", *ours, check=False)


def test_images_are_pushed_and_the_stack_runs_the_registrys_images(fleet: SwarmFleet, registry: str) -> None:
    catalog = set(_get(f"http://{registry}/v2/_catalog")["repositories"])
    station_repo, _, tag = fleet.env["STATION_IMAGE"].rpartition(":")
    broker_repo = fleet.env["MOSQUITTO_IMAGE"].rpartition(":")[0]
    assert {station_repo, broker_repo} <= catalog
    assert tag in _get(f"http://{registry}/v2/{station_repo}/tags/list")["tags"]
    images = {s["Spec"]["Name"]: s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
              for s in service_inspect(fleet.stack)}
    assert set(images) == {fleet.service("broker"), fleet.service("station-1"), fleet.service("station-2")}
    for name, image in images.items():
        # --resolve-image always: pinned to the digest the registry gave, so every node runs the same bytes.
        assert image.startswith(f"{registry}/") and "@sha256:" in image, (name, image)


def test_stations_running_the_pushed_image_are_heard(fleet: SwarmFleet) -> None:
    things = {f"weather-station-{i}" for i in range(1, STATIONS + 1)}
    sub = fleet.subscribe()
    try:
        assert sub.wait_for(lambda ps: {json.loads(p)["thing_name"] for p in ps} >= things, timeout=180), \
            f"heard only {sorted({m['thing_name'] for m in sub.messages()})}"
    finally:
        sub.__exit__(None, None, None)
