"""The swarm commands' decisions without an engine: the `docker` CLI is replaced by canned answers."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from deploy.settings import DeploySettings
from deploy.swarm import commands, engine
from deploy.swarm.errors import SwarmError

from tests.support.fleets import register_fleet


def answers(table: dict[tuple[str, ...], str], calls: list[tuple[str, ...]]):
    def fake(*args: str, **_: object) -> str:
        calls.append(args)
        for prefix, out in table.items():
            if args[:len(prefix)] == prefix:
                return out
        return ""
    return fake


@pytest.mark.parametrize(("info", "message"), [
    ("inactive false ", "not in a swarm: run `docker swarm init"),
    ("active false abc", "swarm worker: run `make swarm-up` on a manager"),
])
def test_swarm_up_needs_a_manager(monkeypatch: pytest.MonkeyPatch, info: str, message: str) -> None:
    monkeypatch.setattr(engine, "docker", answers({("info",): info}, []))
    with pytest.raises(SwarmError, match=message):
        engine.require_manager()


def test_broker_label_is_added_only_when_no_node_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(engine, "docker", answers({}, calls))
    engine.ensure_broker_node([engine.Node("n1", {"weather-fleet.broker": "true"}, False),
                               engine.Node("n2", {}, True)], "n2")
    assert calls == []
    engine.ensure_broker_node([engine.Node("n2", {"weather-fleet.stations": "true"}, True)], "n2")
    assert calls == [("node", "update", "--label-add", "weather-fleet.broker=true", "n2")]


def service(name: str, role: str, replicas: int) -> dict:
    return {"Spec": {"Name": name, "Labels": {"com.weather-fleet.role": role, "com.weather-fleet.things": name},
                     "Mode": {"Replicated": {"Replicas": replicas}}}}


def test_swarm_ps_fails_on_a_station_service_with_more_than_one_replica(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(fleet_dir=Path("."), data_dir=Path("."))
    monkeypatch.setattr(engine, "docker", answers({("stack", "ps"): "wf_station-1.1|vm|Running|Running 3 minutes ago|\n"},
                                                  []))
    fine = [service("wf_broker", "broker", 1), service("wf_station-1", "station", 1)]
    monkeypatch.setattr(engine, "services", lambda stack: fine)
    assert commands.cmd_ps(args, DeploySettings(), "wf") == 0
    assert "wf_station-1" in capsys.readouterr().out
    scaled = [*fine, service("wf_station-2", "station", 2), service("wf_lake", "lake", 3)]
    monkeypatch.setattr(engine, "services", lambda stack: scaled)
    assert commands.cmd_ps(args, DeploySettings(), "wf") == 1
    out = capsys.readouterr().out
    assert "replicas != 1" in out and "wf_station-2" in out.split("ERROR")[1] and "wf_lake" not in out.split("ERROR")[1]


def test_prune_removes_only_stale_objects_of_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    store = {"secret": {"wf-a-key-1", "wf-a-key-2"}, "config": {"wf-broker-acl-1"}}
    removed: list[str] = []

    def fake(*args: str, **_: object) -> str:
        kind, verb = args[0], args[1]
        if verb == "ls":
            assert "label=com.weather-fleet.stack=wf" in args  # only the stack's own objects are ever listed
            return "\n".join(sorted(store[kind]))
        if verb == "rm":
            for name in args[2:]:
                store[kind].discard(name)
                removed.append(name)
        return ""
    monkeypatch.setattr(engine, "docker", fake)
    gone = engine.prune_objects("wf", keep={"wf-a-key-2", "wf-broker-acl-1"})
    assert removed == ["wf-a-key-1"] and gone == ["wf-a-key-1"]
    assert store == {"secret": {"wf-a-key-2"}, "config": {"wf-broker-acl-1"}}


def test_relay_on_a_taken_port_names_broker_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.swarm import relay

    calls: list[tuple[str, ...]] = []

    def fake(*args: str, check: bool = True, **_: object) -> str:
        calls.append(args)
        if args[0] == "run":
            raise SwarmError("`docker run -d --name wf-broker-relay` failed: port is already allocated")
        return ""
    monkeypatch.setattr(relay, "docker", fake)
    with pytest.raises(SwarmError, match="127.0.0.1:8883 cannot be published.*set BROKER_PORT to a free port"):
        relay.start_relay("wf", 8883, "weather-fleet/station:swarm")
    run = next(c for c in calls if c[0] == "run")
    assert run[run.index("-p") + 1] == "127.0.0.1:8883:8883" and "--read-only" in run
    assert ("rm", "-f", "wf-broker-relay") in calls  # the half-created container is removed


def test_a_bad_swarm_variable_is_a_configuration_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "deploy", "stack", "ps"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PIPELINE": "maybe"})
    assert out.returncode == 2 and "PIPELINE" in out.stderr and "Traceback" not in out.stderr


def test_swarm_up_refuses_data_the_group_containers_may_not_read(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Groups mount DATA_DIR itself: a folder private to its owner (0700) would fail every station of every
    group, task after task. Nothing is built, pushed, labelled or deployed; the error names the path and the fix."""
    import os

    from deploy.errors import ConfigError

    isd = tmp_path / "isd"
    isd.mkdir()
    (isd / "723123-14886-2022.gz").write_bytes(b"x")
    (isd / "723123-14886-2022.gz").chmod(0o644)
    if os.getuid() == 0:
        os.chown(isd, 23456, 23456)  # root passes every mode check: the folder belongs to somebody else
    fleet = tmp_path / "fleet"
    register_fleet(fleet, isd, 4, 2)
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(engine, "docker", answers({("info",): "active true n1", ("node", "ls"): "n1",
                                                   ("node", "inspect"): "n1 {}"}, calls))
    monkeypatch.setenv("STATIONS_PER_CONTAINER", "2")
    args = argparse.Namespace(fleet_dir=fleet, data_dir=isd, dry_run=False)
    for mode, refused in ((0o700, True), (0o755, False)):
        isd.chmod(mode)
        calls.clear()
        if refused:
            with pytest.raises(ConfigError, match=rf"(?s){isd} \(mode 0700.*`chmod o\+rx {isd}`.*nothing was deployed"):
                commands.cmd_up(args, DeploySettings(), "wf")
            assert [c for c in calls if c[0] not in ("info", "node") or c[1] == "update"] == []
        else:
            monkeypatch.setattr(commands.relay, "start_relay", lambda *a: None)
            monkeypatch.setattr(commands, "wait_for_broker", lambda *a: 0.0)
            assert commands.cmd_up(args, DeploySettings(), "wf") == 0
            assert any(c[:2] == ("stack", "deploy") for c in calls)


def test_swarm_up_warns_when_other_station_nodes_need_the_image_without_a_registry(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seen across three engines (scripts/bench_swarm_nodes.py): with REGISTRY unset, a stations node without the
    station image rejects its tasks ('No such image') until Swarm gives up; `swarm-up` said nothing about it."""
    isd = tmp_path / "isd"
    isd.mkdir()
    (isd / "723123-14886-2022.gz").write_bytes(b"x")
    (isd / "723123-14886-2022.gz").chmod(0o644)
    fleet = tmp_path / "fleet"
    register_fleet(fleet, isd, 2)
    monkeypatch.setattr(commands.relay, "start_relay", lambda *a: None)
    monkeypatch.setattr(commands, "wait_for_broker", lambda *a: 0.0)
    monkeypatch.delenv("STATIONS_PER_CONTAINER", raising=False)
    monkeypatch.delenv("REGISTRY", raising=False)
    args = argparse.Namespace(fleet_dir=fleet, data_dir=isd, dry_run=False)
    station = '{"weather-fleet.stations": "true"}'
    for listing, warned in ((f"n1 {{}}\nn2 {station}\nn3 {station}", "2 other node(s) (n2, n3)"),
                            ("n1 {}", None),  # a single-node swarm: the local image is the only one needed
                            (f"n1 {station}\nn2 {{}}", None)):  # the other node may not run stations
        monkeypatch.setattr(engine, "docker", answers({("info",): "active true n1", ("node", "ls"): "n1 n2 n3",
                                                       ("node", "inspect"): listing}, []))
        assert commands.cmd_up(args, DeploySettings(STATION_IMAGE="st:x"), "wf") == 0
        out = capsys.readouterr().out
        if warned:
            assert f"REGISTRY is unset and stations may run on {warned}" in out and "st:x" in out, out
        else:
            assert "REGISTRY is unset" not in out, out
    monkeypatch.setenv("REGISTRY", "registry.lan:5000")
    monkeypatch.setattr(engine, "docker", answers({("info",): "active true n1", ("node", "ls"): "n1 n2",
                                                   ("node", "inspect"): f"n1 {{}}\nn2 {station}"}, []))
    assert commands.cmd_up(args, DeploySettings(), "wf") == 0
    assert "REGISTRY is unset" not in capsys.readouterr().out


def test_swarm_ps_shows_each_services_newest_task_and_names_the_failing_ones(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`docker stack ps` lists each slot's newest task first: that one's state and error are shown."""
    listing = "\n".join([
        "wf_group-1.1|vm|Shutdown|Failed 3 seconds ago|\"task: non-zero exit (2)\"",
        "wf_group-1.1|vm|Shutdown|Failed 9 seconds ago|\"task: non-zero exit (2)\"",
        "wf_group-2.1|vm|Running|Running 2 minutes ago|",
        "wf_group-2.1|vm|Shutdown|Failed 3 minutes ago|\"task: non-zero exit (1)\"",
        "wf_station-9.1|node-b|Shutdown|Complete 1 minute ago|",
    ])
    monkeypatch.setattr(engine, "docker", answers({("stack", "ps"): listing}, []))
    monkeypatch.setattr(engine, "services", lambda stack: [service(f"wf_{n}", "station", 1)
                                                           for n in ("group-1", "group-2", "station-9")])
    args = argparse.Namespace(fleet_dir=Path("."), data_dir=Path("."))
    assert commands.cmd_ps(args, DeploySettings(), "wf") == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "Failed 3 seconds ago: task: non-zero exit (2)" in rows["wf_group-1"]
    assert rows["wf_group-2"].split()[3] == "1" and "Running 2 minutes ago" in rows["wf_group-2"]
    assert rows["wf_station-9"].split()[3] == "0" and "Complete 1 minute ago" in rows["wf_station-9"]
    assert rows["failing:"] == "failing: wf_group-1: `docker service logs wf_group-1` says why"


def test_the_stack_reads_env_like_the_station_interval_from_the_environment_drops_dotenv_speedup(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`INTERVAL=0.25 make swarm-up` with `.env`'s SPEEDUP=3600 (as .env.example has it): the Makefile drops
    SPEEDUP, but the stack read `.env` again and handed both to every station, which refused to start
    ("set SPEEDUP or INTERVAL, not both"; seen in `make bench-swarm-nodes` run from a checkout with a .env)."""
    from deploy.swarm.stack import station_environment

    (tmp_path / ".env").write_text("SPEEDUP=3600\nLOG_FORMAT=json\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPEEDUP", raising=False)
    monkeypatch.setenv("INTERVAL", "0.25")
    for group in (False, True):
        env = station_environment(commands._environment(), group=group)
        assert env["INTERVAL"] == "0.25" and "SPEEDUP" not in env and env["LOG_FORMAT"] == "json"
