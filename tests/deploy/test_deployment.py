"""compose.env and the deployment's files, written by the one writer (`deploy.deployment.write_deployment`) for a
local and an AWS manifest alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.deployment import compose_env_path, render_compose_env, write_deployment
from deploy.swarm.stack import read_env_file
from fleetcore.manifest import FleetManifest, Thing, save_manifest
from tests.support.fleets import register_fleet
from tests.support.standins import stand_in_lab_files

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def isd_dir(tmp_path: Path) -> Path:
    return stand_in_lab_files(tmp_path / "isd")


def aws_manifest(count: int) -> FleetManifest:
    things = [Thing(thing_name=f"w-{i}", station_id="030910-99999", isd_file=f"030910-99999-20{10 + i}.gz",
                    identity_dir=f"things/w-{i}", certificate_sha256="0" * 64, start_offset=i)
              for i in range(1, count + 1)]
    return FleetManifest(target="aws", endpoint="abc-ats.iot.eu-west-1.amazonaws.com", prefix="w", things=things)


def test_compose_env_matches_a_local_manifest(tmp_path: Path, isd_dir: Path) -> None:
    out = register_fleet(tmp_path / "fleet", isd_dir)
    env = read_env_file(tmp_path / "fleet" / "compose.env")
    for i, t in enumerate(out.manifest.stations(), start=1):
        assert (env[f"STATION_{i}_THING"], env[f"STATION_{i}_ISD"]) == (t.thing_name, t.isd_file)
    assert (Path(env["DATA_DIR"]), Path(env["FLEET_DIR"])) == (isd_dir.resolve(), (tmp_path / "fleet").resolve())
    assert (env["STATIONS_MQTT_HOST"], env["FLEET_SIZE"], env["FLEET_GROUPS"]) == ("broker", "5", "0")


def test_an_aws_manifest_points_the_stations_at_its_endpoint(tmp_path: Path) -> None:
    """Regression: the AWS registration wrote the local compose.env, then string-patched STATIONS_MQTT_HOST."""
    text = render_compose_env(tmp_path, tmp_path / "isd", aws_manifest(6))
    lines = text.splitlines()
    assert [ln for ln in lines if ln.startswith("STATIONS_MQTT_HOST=")] == \
        ["STATIONS_MQTT_HOST=abc-ats.iot.eu-west-1.amazonaws.com"]
    assert "STATION_5_THING=w-5" in lines and "STATION_5_OFFSET=5" in lines and "STATION_6_THING=w-6" not in lines
    assert "FLEET_SIZE=6" in lines


def test_write_is_idempotent_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    planned = write_deployment(fleet, tmp_path, aws_manifest(7), 1, dry_run=True)
    assert sorted(p.name for p in planned.written) == ["compose.env", "compose.stations.yaml"]
    assert not fleet.exists()
    first = write_deployment(fleet, tmp_path, aws_manifest(7))
    assert sorted(p.name for p in first.written) == ["compose.env", "compose.stations.yaml"]
    again = write_deployment(fleet, tmp_path, aws_manifest(7))
    assert (again.written, again.removed, again.groups) == ([], [], 0)


def test_deploy_write_cli_reads_the_manifest_provisioning_wrote(tmp_path: Path) -> None:
    """`make register` = `python -m provisioning register` then `python -m deploy write`: the second reads only the
    manifest; without one, it names the command that makes it."""
    fleet = tmp_path / "fleet"
    env = {k: v for k, v in os.environ.items() if k not in ("STATIONS_PER_CONTAINER", "FLEET_DIR")}
    missing = subprocess.run([sys.executable, "-m", "deploy", "write", "--fleet-dir", str(fleet)], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr == f"deploy: no fleet manifest at {fleet / 'manifest.json'}: run `make register` first\n"
    save_manifest(fleet, aws_manifest(3))
    done = subprocess.run([sys.executable, "-m", "deploy", "write", "--fleet-dir", str(fleet), "--data-dir",
                           str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"wrote {compose_env_path(fleet)}\n"
    assert read_env_file(compose_env_path(fleet))["FLEET_SIZE"] == "3"


def test_fleet_metrics_off_sets_the_containers_metrics_port_to_zero(tmp_path: Path) -> None:
    from deploy.swarm.stack import station_environment
    on = read_env_file_text(render_compose_env(tmp_path, tmp_path / "isd", aws_manifest(2)))
    off = read_env_file_text(render_compose_env(tmp_path, tmp_path / "isd", aws_manifest(2), metrics=False))
    assert "STATIONS_METRICS_PORT" not in on and off["STATIONS_METRICS_PORT"] == "0"
    # the containers' METRICS_PORT, resolved as compose and the Swarm stack resolve it
    assert station_environment(on, group=True)["METRICS_PORT"] == "9101"
    assert station_environment(off, group=True)["METRICS_PORT"] == "0"
    assert station_environment(off, group=False)["METRICS_PORT"] == "0"


def read_env_file_text(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
