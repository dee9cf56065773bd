"""What `python -m deploy` computes for compose (formerly shell in the Makefile): the environment compose runs with
(.env layering and the pacing rule), the services a fleet runs, the station volumes `make clean` removes, the host
tools' environment, and the broker ACL reload."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy.broker import COPY_ACL, reload_acl
from deploy.cli import host_environment
from deploy.compose import compose_environment, fleet_services, project_name, station_volumes, unused_stations
from deploy.settings import DeploySettings

DOTENV = {"SPEEDUP": "3600", "TOPIC": "a/b", "FLEET_DIR": ".fleet"}


def settings(tmp_path: Path, **values: object) -> DeploySettings:
    return DeploySettings(FLEET_DIR=tmp_path / "fleet", DATA_DIR=tmp_path / "isd", FLEET_UID=2001, FLEET_GID=0,
                          **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, ("3600", None, "a/b")),
    ({"INTERVAL": "1"}, (None, "1", "a/b")),
    ({"INTERVAL": "0"}, (None, "0", "a/b")),
    ({"SPEEDUP": "60"}, ("60", None, "a/b")),
    ({"TOPIC": "c/d"}, ("3600", None, "c/d")),
])
def test_the_environment_wins_and_pacing_is_one_setting(tmp_path: Path, environ: dict[str, str],
                                                        expected: tuple) -> None:
    env = compose_environment(settings(tmp_path), DOTENV, environ)
    assert (env.get("SPEEDUP"), env.get("INTERVAL"), env.get("TOPIC")) == expected


def test_dotenv_interval_is_dropped_when_the_environment_sets_speedup(tmp_path: Path) -> None:
    env = compose_environment(settings(tmp_path), {"INTERVAL": "1"}, {"SPEEDUP": "10"})
    assert (env.get("SPEEDUP"), env.get("INTERVAL")) == ("10", None)


def test_folders_are_absolute_and_the_containers_user_is_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = compose_environment(DeploySettings(FLEET_DIR="f", DATA_DIR="d", FLEET_UID=2001, FLEET_GID=0), DOTENV, {})
    assert (env["FLEET_DIR"], env["DATA_DIR"]) == (str(tmp_path / "f"), str(tmp_path / "d"))
    assert (env["FLEET_UID"], env["FLEET_GID"]) == ("2001", "0")  # FLEET_GID 0 is a valid group


def test_fleet_uid_defaults_to_yours_or_10001_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLEET_UID", "FLEET_GID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.getuid", lambda: 0)
    assert (DeploySettings(_env_file=None).fleet_uid, DeploySettings(_env_file=None).fleet_gid) == (10001, 10001)
    monkeypatch.setattr("os.getuid", lambda: 1234)
    monkeypatch.setattr("os.getgid", lambda: 99)
    assert (DeploySettings(_env_file=None).fleet_uid, DeploySettings(_env_file=None).fleet_gid) == (1234, 99)


@pytest.mark.parametrize(("fleet", "services", "unused"), [
    ({}, [f"station-{i}" for i in range(1, 6)], []),
    ({"FLEET_SIZE": "3", "FLEET_GROUPS": "0"}, ["station-1", "station-2", "station-3"], ["station-4", "station-5"]),
    ({"FLEET_SIZE": "7", "FLEET_GROUPS": "0"}, [f"station-{i}" for i in range(1, 8)], []),
    ({"FLEET_SIZE": "12", "FLEET_GROUPS": "3"}, ["group-1", "group-2", "group-3"],
     [f"station-{i}" for i in range(1, 6)]),
])
def test_services_follow_compose_env(fleet: dict[str, str], services: list[str], unused: list[str]) -> None:
    assert fleet_services(fleet) == services
    assert unused_stations(fleet) == unused


def test_clean_removes_only_the_stations_state_volumes() -> None:
    names = ["wf_station-12-state", "wf-group-3-state", "wf_station-cache", "wf_broker-data", "wf_lake",
             "wf_station-1-state-backup", "wf_station-x-state"]
    assert station_volumes(names) == ["wf_station-12-state", "wf-group-3-state", "wf_station-cache"]
    assert project_name(None, Path("/src/Weather.Fleet-2")) == "weatherfleet-2"
    assert project_name("wf-test", Path("/src/x")) == "wf-test"


def test_host_tools_reach_the_fleets_broker_and_monitor(tmp_path: Path) -> None:
    s = settings(tmp_path, BROKER_PORT=18883)
    env = host_environment(s, {"PATH": "/bin", "MQTT_HOST": ""})
    assert {k: env[k] for k in ("MQTT_HOST", "MQTT_PORT", "MONITOR_IDENTITY_DIR", "STATION_NAMES_FILE")} == {
        "MQTT_HOST": "localhost", "MQTT_PORT": "18883", "MONITOR_IDENTITY_DIR": str(tmp_path / "fleet/things/monitor"),
        "STATION_NAMES_FILE": str(tmp_path / "fleet/stations.json")}
    assert host_environment(s, {"MQTT_PORT": "1"})["MQTT_PORT"] == "1"  # the environment still wins


class FakeDocker:
    """`docker` answering like a running broker whose ACL differs (or not) from the fleet's."""

    def __init__(self, running: bool, same_acl: bool) -> None:
        self.running, self.same_acl, self.calls = running, same_acl, []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        if args[0] == "inspect":
            return subprocess.CompletedProcess(args, 0, "true\n" if self.running else "false\n", "")
        if args[:3] == ("exec", "cid", "cmp"):
            return subprocess.CompletedProcess(args, 0 if self.same_acl else 1, "", "")
        return subprocess.CompletedProcess(args, 0, "", "")


def test_acl_reload_copies_and_signals_only_when_the_acl_changed(capsys: pytest.CaptureFixture[str]) -> None:
    changed = FakeDocker(running=True, same_acl=False)
    assert reload_acl("cid", changed) is True
    assert changed.calls[2:] == [("exec", "cid", "sh", "-c", COPY_ACL), ("kill", "--signal", "HUP", "cid")]
    assert capsys.readouterr().out == "broker: the fleet changed, reloading its ACL\n"
    for docker in (FakeDocker(running=True, same_acl=True), FakeDocker(running=False, same_acl=False)):
        assert reload_acl("cid", docker) is False
        assert not any(c[0] == "kill" for c in docker.calls)
    assert reload_acl("", FakeDocker(running=True, same_acl=False)) is False  # no broker container


def test_on_aws_runs_the_command_only_for_target_aws(tmp_path: Path) -> None:
    """`make pipeline*` and `make aws-preflight` (formerly six shell `if`s over $(TARGET)): TARGET from the
    environment or `.env` picks; other targets get the hint, the AWS command never runs."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TARGET"}
    cmd = [sys.executable, "-m", "deploy", "on-aws", "--otherwise", "TARGET={target}: local", "this_module_does_not_exist"]
    local = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert (local.returncode, local.stdout) == (0, "TARGET=local: local\n")
    (tmp_path / ".env").write_text("TARGET=aws\n")
    aws = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert aws.returncode == 1 and "No module named this_module_does_not_exist" in aws.stderr


def test_images_are_built_with_docker_build_as_compose_yaml_describes_them() -> None:
    """`make images` builds with `docker build`, not `compose build`, whose project labels made a later container
    of the image (the tests' shared broker) an orphan of that project, removed by its `down --remove-orphans`."""
    from deploy.swarm.images import build_commands
    from deploy.swarm.stack import Images

    images = Images(station="st:t", broker="br:t", pipeline="pl:t")
    assert build_commands(images, None, broker=True, pipeline=False) == [
        ["docker", "build", "-q", "--build-arg", "BASE_IMAGE=python:3.12-slim", "-f", "docker/station/Dockerfile",
         "-t", "st:t", "."],
        ["docker", "build", "-q", "--build-arg", "BASE_IMAGE=debian:bookworm-slim", "-t", "br:t", "docker/broker"]]
    assert [c[4] for c in build_commands(images, "local/base:ci", broker=True, pipeline=True)] == \
        ["BASE_IMAGE=local/base:ci"] * 3
