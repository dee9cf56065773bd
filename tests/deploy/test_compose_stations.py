"""The generated compose override for stations 6..N: matches the manifest and compose.yaml, and compose accepts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.compose_stations import (STATIONS_COMPOSE_FILE, render_stations_compose, station_service,
                                     stations_compose_path)
from deploy.deployment import remove_deployment, write_deployment
from fleetcore.manifest import FleetManifest, Thing, load_manifest, save_manifest
from provisioning.settings import MAX_FLEET_COUNT, FleetSettings
from tests.support.fleets import register_fleet
from tests.conftest import require
from tests.support.compose_fleet import compose_command
from tests.support.standins import stand_in_lab_files

REPO = Path(__file__).resolve().parents[2]
EXTRA_FILES = ("725300-94846-1983", "720538-00164-2021")


@pytest.fixture()
def isd_dir(tmp_path: Path) -> Path:
    """Stand-ins named like ISD files (registration only looks at names): the lab's five and two more."""
    folder = stand_in_lab_files(tmp_path / "isd")
    for stem in EXTRA_FILES:
        (folder / stem).write_bytes(b"not really")
    return folder


def register(tmp_path: Path, isd_dir: Path, count: int, **kw: Any) -> Path:
    fleet = tmp_path / "fleet"
    register_fleet(fleet, isd_dir, count, **kw)
    return fleet


def compose_binary() -> list[str] | None:
    """The compose the fleet tests and the Makefile use (testbed/compose_fleet.py), None when none is installed."""
    try:
        return compose_command()
    except RuntimeError:
        return None


def test_override_matches_the_manifest(tmp_path: Path, isd_dir: Path) -> None:
    fleet = register(tmp_path, isd_dir, 12)
    manifest = load_manifest(fleet)
    doc = yaml.safe_load(stations_compose_path(fleet).read_text())
    stations = manifest.stations()
    assert len(stations) == 12
    assert sorted(doc["services"], key=lambda s: int(s.split("-")[1])) == [f"station-{i}" for i in range(6, 13)]
    assert set(doc["volumes"]) == {f"station-{i}-state" for i in range(6, 13)}
    for i, thing in enumerate(stations, start=1):
        if i <= 5:
            continue  # compose.yaml's own services, filled from compose.env
        svc = doc["services"][f"station-{i}"]
        assert svc["environment"]["THING_NAME"] == thing.thing_name
        assert svc["environment"]["DATA_FILE"] == f"/data/{thing.isd_file}"
        binds = {v["target"]: v for v in svc["volumes"] if isinstance(v, dict)}
        assert binds["/identity"] == {"type": "bind", "read_only": True, "target": "/identity",
                                      "source": f"${{FLEET_DIR:-./.fleet}}/{thing.identity_dir}"}
        assert binds[f"/data/{thing.isd_file}"] == {
            "type": "bind", "read_only": True, "target": f"/data/{thing.isd_file}",
            "source": f"${{DATA_DIR:-./data}}/{thing.isd_file}"}
        assert f"station-{i}-state:/state" in svc["volumes"]
        assert (fleet / thing.identity_dir / "private.key").is_file()
    # Files cycle over the seven in the folder: station 8 replays station 1's file again.
    assert doc["services"]["station-8"]["environment"]["DATA_FILE"] == f"/data/{stations[0].isd_file}"


def test_template_is_compose_yaml_station_1() -> None:
    """The generated services carry exactly compose.yaml's station settings (x-station, x-station-env)."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    station_1 = dict(compose["services"]["station-1"])
    assert station_1.pop("build")["dockerfile"] == "docker/station/Dockerfile"  # only station-1's image builds
    assert station_service(1, "${STATION_1_THING:-weather-station-1}", "${STATION_1_ISD:-030910-99999-2022.gz}",
                           "${STATION_1_OFFSET:-0}") == station_1
    assert set(compose["volumes"]) >= {f"station-{i}-state" for i in range(1, 6)}


def test_five_or_fewer_need_no_override_and_shrinking_removes_it(tmp_path: Path, isd_dir: Path) -> None:
    assert render_stations_compose([]) is None
    fleet = register(tmp_path, isd_dir, 12)
    assert stations_compose_path(fleet).is_file()
    register(tmp_path, isd_dir, 7)
    doc = yaml.safe_load(stations_compose_path(fleet).read_text())
    assert sorted(doc["services"]) == ["station-6", "station-7"]
    assert not (fleet / "things" / "weather-station-8").exists()
    register(tmp_path, isd_dir, 5)
    assert not stations_compose_path(fleet).exists()
    assert len(load_manifest(fleet).stations()) == 5


def test_dry_run_and_remove(tmp_path: Path, isd_dir: Path) -> None:
    fleet = register(tmp_path, isd_dir, 9)
    manifest = load_manifest(fleet)
    (fleet / "compose.stations.yaml").unlink()
    out = write_deployment(fleet, isd_dir, manifest, dry_run=True)
    assert out.written == [stations_compose_path(fleet)] and not stations_compose_path(fleet).exists()
    write_deployment(fleet, isd_dir, manifest)
    before = stations_compose_path(fleet).read_bytes()
    again = write_deployment(fleet, isd_dir, manifest)
    assert not again.written and not again.removed and stations_compose_path(fleet).read_bytes() == before
    written = [fleet / "compose.env", stations_compose_path(fleet), fleet / "mosquitto.conf"]  # register's broker conf
    assert remove_deployment(fleet, dry_run=True) == written
    assert stations_compose_path(fleet).exists()
    assert remove_deployment(fleet) == written
    assert not any(p.exists() for p in written)
    assert (fleet / "manifest.json").is_file()  # the identities are provisioning's: untouched


def test_count_cap(tmp_path: Path, isd_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_COUNT", str(MAX_FLEET_COUNT))
    assert FleetSettings().fleet_count == MAX_FLEET_COUNT == 10_000
    env = {**os.environ, "FLEET_COUNT": str(MAX_FLEET_COUNT + 1)}
    out = subprocess.run([sys.executable, "-m", "provisioning", "register", "--fleet-dir", str(tmp_path / "f"),
                          "--data-dir", str(isd_dir)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "FLEET_COUNT" in out.stderr
    clean = {k: v for k, v in os.environ.items() if k not in ("FLEET_COUNT", "STATIONS_PER_CONTAINER")}
    out = subprocess.run([sys.executable, "-m", "provisioning", "register", "--fleet-dir", str(tmp_path / "f"),
                          "--data-dir", str(isd_dir), "--count", "10001"], cwd=REPO, capture_output=True, text=True,
                         env=clean, timeout=60)
    assert out.returncode == 2 and "between 1 and 10000" in out.stderr  # a configuration error, as FLEET_COUNT
    assert not (tmp_path / "f").exists()


def test_container_cap(tmp_path: Path, isd_dir: Path) -> None:
    """More than 1,000 containers do not fit one Docker network: `deploy write` says which setting fixes it."""
    fleet = tmp_path / "f"
    things = [Thing(thing_name=f"w-{i}", station_id="030910-99999", isd_file="030910-99999-2022.gz",
                    identity_dir=f"things/w-{i}", certificate_sha256="0" * 64) for i in range(1, 1002)]
    save_manifest(fleet, FleetManifest(target="local", endpoint="broker", prefix="w", things=things))
    clean = {k: v for k, v in os.environ.items() if k not in ("FLEET_COUNT", "STATIONS_PER_CONTAINER")}
    out = subprocess.run([sys.executable, "-m", "deploy", "write", "--fleet-dir", str(fleet), "--data-dir",
                          str(isd_dir)], cwd=REPO, capture_output=True, text=True, env=clean, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("deploy: FLEET_COUNT=1001 with STATIONS_PER_CONTAINER=1 needs 1001 containers")
    assert "set STATIONS_PER_CONTAINER to 2 or more" in out.stderr
    assert sorted(p.name for p in fleet.iterdir()) == ["manifest.json"]  # nothing written
    out = subprocess.run([sys.executable, "-m", "deploy", "write", "--fleet-dir", str(fleet), "--data-dir",
                          str(isd_dir), "--stations-per-container", "2"], cwd=REPO, capture_output=True, text=True,
                         env=clean, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "group mode: 501 group containers of up to 2 stations" in out.stdout


def test_compose_config_accepts_the_override(tmp_path: Path, isd_dir: Path) -> None:
    """`docker-compose -f compose.yaml -f .fleet/compose.stations.yaml config` resolves every station, and a
    generated station resolves to the same settings as compose.yaml's station-1 (names aside)."""
    binary = compose_binary()
    if binary is None:
        require("REQUIRE_DOCKER", "neither `docker compose` nor `docker-compose` is installed")
    fleet = register(tmp_path, isd_dir, 12)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATION", "COMPOSE_"))}
    env.update(COMPOSE_PROJECT_NAME="wf-config-test", FLEET_UID="10001", FLEET_GID="10001",
               PRELOAD="true", DECODE_AHEAD="false", STATIONS_MQTT_PORT="443")
    cmd = [*binary, "--env-file", str(fleet / "compose.env"), "-f", str(REPO / "compose.yaml"),
           "-f", str(fleet / STATIONS_COMPOSE_FILE), "config"]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load(out.stdout)
    assert set(config["services"]) == {"broker", *(f"station-{i}" for i in range(1, 13))}
    assert {f"station-{i}-state" for i in range(1, 13)} <= set(config["volumes"])
    stations = load_manifest(fleet).stations()

    def normalised(i: int) -> dict[str, Any]:
        svc = dict(config["services"][f"station-{i}"])
        svc.pop("build", None)
        text = yaml.safe_dump(svc)
        thing = stations[i - 1]
        return yaml.safe_load(text.replace(thing.thing_name, "THING").replace(thing.isd_file or "", "ISD")
                              .replace(f"station-{i}-state", "STATE"))

    assert normalised(1) == normalised(6) == normalised(12)
    assert config["services"]["station-12"]["environment"]["THING_NAME"] == "weather-station-12"
    # Regression: PRELOAD and DECODE_AHEAD (documented in .env.example) never reached a container.
    for i in (1, 5, 6, 12):
        environment = config["services"][f"station-{i}"]["environment"]
        assert (environment["PRELOAD"], environment["DECODE_AHEAD"], str(environment["MQTT_PORT"])) == \
            ("true", "false", "443")


def test_aws_fleet_gets_the_same_override(tmp_path: Path, isd_dir: Path) -> None:
    """An AWS manifest goes through the same writer as a local one: stations 6..N get the override too, and a
    fleet registered without ISD files (nothing to replay) gets none."""

    def manifest(count: int, with_files: bool) -> FleetManifest:
        things = [Thing(thing_name=f"w-{i}", station_id="030910-99999" if with_files else None,
                        isd_file="030910-99999-2022.gz" if with_files else None, identity_dir=f"things/w-{i}",
                        certificate_sha256="0" * 64) for i in range(1, count + 1)]
        return FleetManifest(target="aws", endpoint="abc-ats.iot.eu-west-1.amazonaws.com", prefix="w", things=things)

    fleet = tmp_path / "aws"
    fleet.mkdir()  # the AWS ledger has written manifest.json there before
    write_deployment(fleet, isd_dir, manifest(8, True))
    doc = yaml.safe_load(stations_compose_path(fleet).read_text())
    assert sorted(doc["services"]) == ["station-6", "station-7", "station-8"]
    assert doc["services"]["station-8"]["environment"]["THING_NAME"] == "w-8"
    assert "STATIONS_MQTT_HOST=abc-ats.iot.eu-west-1.amazonaws.com" in (fleet / "compose.env").read_text()
    write_deployment(fleet, isd_dir, manifest(8, False))
    assert not stations_compose_path(fleet).exists()
