"""FAULTS in the deployed fleet (deploy.faults): the resolved scenario written by `deploy write`, mounted read-only
into every station and group service (compose, as compose itself merges the files) and handed to the Swarm stack
as a config; a bad file refused at `deploy write` / `deploy up` / `stack up` with one line per problem, nothing
started; without FAULTS, nothing of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.compose import ComposeProject
from deploy.deployment import compose_env_path, write_deployment
from deploy.errors import ConfigError
from deploy.faults import check_deployed, faults_compose_path, faults_dir, scenario_file_name
from deploy.settings import DeploySettings
from deploy.swarm.stack import Images, StackRequest, build_stack, load_shards, read_env_file
from fleetcore.faults.scenario import dump_json, load_scenario
from fleetcore.manifest import load_manifest
from tests.support.fleets import register_fleet
from tests.support.standins import stand_in_lab_files

REPO = Path(__file__).resolve().parents[2]
SCENARIO = """seed: 11
rules:
  - kind: duplicate
    select: {count: 2}
    when: {every: 3}
  - kind: delay
    select: {names: [lab-2]}
    seconds: 1
fleet:
  - {kind: broker_restart, at: 1m, seconds: 5}
"""
BAD = """seed: 1
rules:
  - kind: duplicate
    when: {probability: 2}
  - kind: teleport
"""
MOUNT = {"type": "bind", "source": "${FLEET_DIR:-./.fleet}/faults", "target": "/faults", "read_only": True}


@pytest.fixture()
def isd_dir(tmp_path: Path) -> Path:
    return stand_in_lab_files(tmp_path / "isd")


@pytest.fixture()
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "faults.yaml"
    path.write_text(SCENARIO)
    return path


def _register(tmp_path: Path, isd_dir: Path, count: int, per: int = 1) -> Path:
    fleet = tmp_path / "fleet"
    register_fleet(fleet, isd_dir, count=count, per=per, prefix="lab")
    return fleet


def _expected(scenario: Path, fleet: Path) -> str:
    names = [t.thing_name for t in load_manifest(fleet).stations()]
    return dump_json(load_scenario(scenario).resolved(names))


@pytest.mark.parametrize(("count", "per", "services"), [
    (3, 1, ["station-1", "station-2", "station-3"]),
    (7, 1, [f"station-{i}" for i in range(1, 8)]),
    (5, 2, ["group-1", "group-2", "group-3"]),
])
def test_faults_are_resolved_written_and_mounted_into_every_fleet_service(tmp_path: Path, isd_dir: Path,
                                                                         scenario: Path, count: int, per: int,
                                                                         services: list[str]) -> None:
    fleet = _register(tmp_path, isd_dir, count, per)
    done = write_deployment(fleet, isd_dir, load_manifest(fleet), per, faults=scenario)
    text = _expected(scenario, fleet)
    name = scenario_file_name(text)
    assert sorted(p.name for p in faults_dir(fleet).iterdir()) == [name]
    written = (faults_dir(fleet) / name).read_text()
    assert written == text
    rules = json.loads(written)["rules"]
    assert len(rules[0]["select"]["names"]) == 2 and "count" not in rules[0]["select"]  # count resolved
    assert read_env_file(compose_env_path(fleet))["STATIONS_FAULTS"] == f"/faults/{name}"
    override = json.loads(faults_compose_path(fleet).read_text().split("\n", 2)[2])
    assert override == {"services": {s: {"volumes": [MOUNT]} for s in services}}
    assert {faults_dir(fleet) / name, faults_compose_path(fleet)} <= set(done.written)
    again = write_deployment(fleet, isd_dir, load_manifest(fleet), per, faults=scenario)
    assert (again.written, again.removed) == ([], [])


def test_without_faults_nothing_is_mounted_and_a_previous_scenario_is_removed(tmp_path: Path, isd_dir: Path,
                                                                             scenario: Path) -> None:
    fleet = _register(tmp_path, isd_dir, 3)
    assert not faults_dir(fleet).exists() and not faults_compose_path(fleet).exists()
    assert "STATIONS_FAULTS" not in read_env_file(compose_env_path(fleet))
    write_deployment(fleet, isd_dir, load_manifest(fleet), faults=scenario)
    done = write_deployment(fleet, isd_dir, load_manifest(fleet))
    assert not faults_dir(fleet).exists() and not faults_compose_path(fleet).exists()
    assert "STATIONS_FAULTS" not in read_env_file(compose_env_path(fleet))
    assert faults_compose_path(fleet) in done.removed


def test_a_changed_scenario_gets_a_new_file_and_the_old_one_goes(tmp_path: Path, isd_dir: Path,
                                                                scenario: Path) -> None:
    fleet = _register(tmp_path, isd_dir, 3)
    write_deployment(fleet, isd_dir, load_manifest(fleet), faults=scenario)
    first = read_env_file(compose_env_path(fleet))["STATIONS_FAULTS"]
    scenario.write_text(SCENARIO.replace("seed: 11", "seed: 12"))
    write_deployment(fleet, isd_dir, load_manifest(fleet), faults=scenario)
    second = read_env_file(compose_env_path(fleet))["STATIONS_FAULTS"]
    assert first != second
    assert [p.name for p in faults_dir(fleet).iterdir()] == [Path(second).name]


BAD_LINES = ["FAULTS={path}: rules[0].duplicate.when.probability: Input should be less than or equal to 1 (got 2)",
             "FAULTS={path}: rules[1]: unknown kind 'teleport' (one of: offline, duplicate, reorder, delay, "
             "clock_skew, stuck, spike, missing, malformed, impersonate, disconnect, reconnect_storm)"]


def test_a_bad_scenario_is_refused_before_anything_is_written(tmp_path: Path, isd_dir: Path) -> None:
    fleet = _register(tmp_path, isd_dir, 3)
    before = {p: p.read_bytes() for p in fleet.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    with pytest.raises(ConfigError) as caught:
        write_deployment(fleet, isd_dir, load_manifest(fleet), faults=bad)
    assert str(caught.value).splitlines() == [line.format(path=bad) for line in BAD_LINES]
    assert {p: p.read_bytes() for p in fleet.rglob("*") if p.is_file()} == before


def _cli(args: list[str], fleet: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m deploy ARGS` with COMPOSE and docker replaced by a recorder: nothing may be started."""
    record = tmp_path / "calls"
    tool = tmp_path / "recorder"
    tool.write_text(f"#!/bin/sh\necho \"$@\" >> {record}\nexit 1\n")
    tool.chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if k not in ("FAULTS", "STATIONS_PER_CONTAINER", "FLEET_DIR")}
    return subprocess.run([sys.executable, "-m", "deploy", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**clean, "FLEET_DIR": str(fleet), "COMPOSE": str(tool),
                                            "PATH": f"{tmp_path}:{os.environ['PATH']}", **env})


@pytest.mark.parametrize("command", [["write"], ["up"], ["stack", "up", "--dry-run"]])
def test_deploy_refuses_a_bad_scenario_with_one_line_per_problem_and_starts_nothing(
        tmp_path: Path, isd_dir: Path, command: list[str]) -> None:
    fleet = _register(tmp_path, isd_dir, 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    out = _cli(command, fleet, tmp_path, FAULTS=str(bad))
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.splitlines() == [f"deploy: {line.format(path=bad)}" for line in BAD_LINES]
    assert not (tmp_path / "calls").exists()
    assert not (fleet / "stack.yaml").exists() and not faults_dir(fleet).exists()


@pytest.mark.parametrize("command", [["up"], ["stack", "up", "--dry-run"]])
def test_up_refuses_a_scenario_other_than_the_deployed_one(tmp_path: Path, isd_dir: Path, scenario: Path,
                                                           command: list[str]) -> None:
    fleet = _register(tmp_path, isd_dir, 2)
    out = _cli(command, fleet, tmp_path, FAULTS=str(scenario))
    assert (out.returncode, out.stderr) == (2, f"deploy: FAULTS={scenario} is not the scenario deployed in {fleet}: "
                                               "run `make register` (or `make up`, which does it) to deploy it\n")
    write_deployment(fleet, isd_dir, load_manifest(fleet), faults=scenario)
    deployed = faults_dir(fleet) / Path(read_env_file(compose_env_path(fleet))["STATIONS_FAULTS"]).name
    out = _cli(command, fleet, tmp_path)
    assert (out.returncode, out.stderr) == (2, f"deploy: FAULTS is unset but the deployment in {fleet} runs the "
                                               f"scenario {deployed}: run `make register` (or `make up`, which "
                                               "does it) to deploy without faults\n")
    assert not (tmp_path / "calls").exists()
    names = [t.thing_name for t in load_manifest(fleet).stations()]
    assert check_deployed(fleet, scenario, names, read_env_file(compose_env_path(fleet))) == deployed


def _compose_config(fleet: Path, isd_dir: Path) -> dict:
    project = ComposeProject(DeploySettings(fleet_dir=fleet, data_dir=isd_dir))
    out = subprocess.run([*project.command(), "config", "--format", "json"], cwd=project.cwd, capture_output=True,
                         text=True, timeout=120, env={**project.environment(), "COMPOSE_PROJECT_NAME": "wf-faults"})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["services"]


def test_compose_merges_the_mount_and_the_variable_into_exactly_the_fleets_services(tmp_path: Path, isd_dir: Path,
                                                                                    scenario: Path) -> None:
    """As `docker compose config` merges compose.yaml, compose.stations.yaml and compose.faults.yaml."""
    fleet = _register(tmp_path, isd_dir, 6)
    plain = _compose_config(fleet, isd_dir)
    assert {name: s["environment"]["FAULTS"] for name, s in plain.items() if name.startswith("station-")} == \
        {f"station-{i}": "" for i in range(1, 7)}
    assert all(v["target"] != "/faults" for s in plain.values() for v in s.get("volumes", []))
    write_deployment(fleet, isd_dir, load_manifest(fleet), faults=scenario)
    inside = read_env_file(compose_env_path(fleet))["STATIONS_FAULTS"]
    merged = _compose_config(fleet, isd_dir)
    for i in range(1, 7):
        svc = merged[f"station-{i}"]
        assert svc["environment"]["FAULTS"] == inside
        faults = [v for v in svc["volumes"] if v["target"] == "/faults"]
        assert faults == [{"type": "bind", "source": str(faults_dir(fleet).resolve()), "target": "/faults",
                           "read_only": True}], faults
        assert [v["target"] for v in svc["volumes"] if v["target"] != "/faults"] == \
            [v["target"] for v in plain[f"station-{i}"]["volumes"]]
    assert not any(v["target"] == "/faults" for v in merged["broker"].get("volumes", []))


IMAGES = Images(station="weather-fleet/station:swarm", broker="local/mosquitto:ci", pipeline="p")


@pytest.mark.parametrize("per", [1, 2])
def test_the_stack_hands_every_station_service_the_scenario_as_a_config(tmp_path: Path, isd_dir: Path,
                                                                       scenario: Path, per: int) -> None:
    fleet = _register(tmp_path, isd_dir, 3, per)
    shards = load_shards(fleet / "shards") if per > 1 else None

    def stack() -> dict:
        return build_stack(StackRequest(stack="wf", fleet_dir=fleet, data_dir=isd_dir, manifest=load_manifest(fleet),
                                        images=IMAGES, environment={}, shards=shards))

    plain = stack()
    stations = [n for n in plain["services"] if n != "broker"]
    assert stations == (["group-1", "group-2"] if per > 1 else ["station-1", "station-2", "station-3"])
    assert all(plain["services"][n]["environment"]["FAULTS"] == "" for n in stations)
    assert not any("faults" in c for c in plain.get("configs", {}))
    write_deployment(fleet, isd_dir, load_manifest(fleet), per, faults=scenario)
    inside = read_env_file(compose_env_path(fleet))["STATIONS_FAULTS"]
    doc = stack()
    host = faults_dir(fleet) / Path(inside).name
    name = f"wf-fleet-faults-{scenario_file_name(host.read_text())[9:17]}"
    assert doc["configs"][name]["file"] == str(host.resolve())
    ref = {"source": name, "target": inside, "uid": "10001", "gid": "10001", "mode": 0o444}
    for n in stations:
        svc = doc["services"][n]
        assert svc["environment"]["FAULTS"] == inside
        assert svc["configs"][0] == ref
        assert svc["configs"][1:] == plain["services"][n].get("configs", [])
    assert "configs" not in doc["services"]["broker"] or ref not in doc["services"]["broker"]["configs"]


def test_chaos_reads_the_same_faults_variable(scenario: Path) -> None:
    from deploy.cli import build_parser

    parser = build_parser(DeploySettings(faults=scenario))
    assert parser.parse_args(["chaos"]).faults == scenario
    assert build_parser(DeploySettings(faults=None)).parse_args(["chaos"]).faults is None
