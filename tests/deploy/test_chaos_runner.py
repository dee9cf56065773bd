"""The chaos runner against a stand-in `docker` (exact commands) and a fake clock: every action in the ground truth
as it happens, restores on schedule, at once when stopped, and despite a failed call."""

from __future__ import annotations

import json
from pathlib import Path

from deploy.chaos.docker import Docker
from deploy.chaos.plan import make_plan
from deploy.chaos.runner import ChaosRunner
from fleetcore.faults.scenario import parse_scenario
from fleetcore.faults.truth import GroundTruthLog
from tests.deploy.fake_docker import FakeContainer, FakeDocker

EPOCH = 1_700_000_000.0


class Clock:
    """Fake time; `wait` is the runner's `stop.wait`: it advances the clock, and sets the stop at `stop_at`."""

    def __init__(self, stop_at: float | None = None) -> None:
        self.now, self.stop_at, self.stopped = 0.0, stop_at, False

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def wait(self, timeout: float) -> bool:
        if self.stop_at is not None and self.now + timeout >= self.stop_at:
            self.now, self.stopped = max(self.now, self.stop_at), True
        else:
            self.now += timeout
        return self.stopped


def fleet() -> FakeDocker:
    return FakeDocker(FakeContainer("b0", "broker", "p-broker-1", networks={"p_default": ["broker", "p-broker-1"]}),
                      FakeContainer("s1", "station-1", "p-station-1-1"),
                      FakeContainer("s2", "station-2", "p-station-2-1",
                                    networks={"p_default": ["station-2"], "p_other": ["x"]}))


def run(fake: FakeDocker, text: str, tmp_path: Path, clock: Clock):
    docker = Docker(run=fake)
    plan = make_plan(parse_scenario("seed: 3\nname: t\nfleet:\n" + text), docker.containers("p"), "p")
    truth = GroundTruthLog(tmp_path / "chaos.faults.jsonl", clock=clock.wall)
    outcome = ChaosRunner(docker, plan, truth, grace_s=4, monotonic=clock.monotonic, wall=clock.wall).run(clock)
    lines = [json.loads(line) for line in (tmp_path / "chaos.faults.jsonl").read_text().splitlines()]
    return outcome, lines


def brief(lines: list[dict]) -> list[tuple]:
    return [(round(d["t"] - EPOCH, 3), d["thing"], d["kind"], d.get("params", {}).get("phase")) for d in lines[1:]]


def test_every_action_on_time_recorded_and_restored(tmp_path: Path) -> None:
    fake, clock = fleet(), Clock()
    outcome, lines = run(fake, "  - {kind: broker_restart, at: 2, seconds: 5}\n"
                               "  - {kind: pause, at: 3, seconds: 1, target: {names: [station-1]}}\n"
                               "  - {kind: network_cut, at: 4, seconds: 10, target: {names: [station-2]}}\n"
                               "  - {kind: kill, at: 5, seconds: 2, target: {names: [station-1]}}\n",
                         tmp_path, clock)
    assert fake.commands() == [
        "stop --time 4 b0", "pause s1", "unpause s1", "network disconnect --force p_default s2",
        "network disconnect --force p_other s2", "kill --signal KILL s1", "start b0", "start s1",
        "network connect --alias=station-2 p_default s2", "network connect --alias=x p_other s2"]
    assert brief(lines) == [(2, "broker", "broker_restart", "begin"), (3, "station-1", "pause", "begin"),
                            (4, "station-1", "pause", "end"), (4, "station-2", "network_cut", "begin"),
                            (5, "station-1", "kill", "begin"), (7, "broker", "broker_restart", "end"),
                            (7, "station-1", "kill", "end"), (14, "station-2", "network_cut", "end")]
    assert lines[0]["kind"] == "start" and lines[0]["params"] == {"seed": 3, "name": "t", "steps": 4}
    assert lines[5]["params"] == {"phase": "begin", "container": "p-station-1-1", "seconds": 2.0, "action": 3,
                                  "signal": "KILL"}
    assert lines[7]["params"]["restarted_by"] == "chaos"
    assert lines[4]["params"]["networks"] == ["p_default", "p_other"]
    assert outcome.actions == 8 and not outcome.failures and not outcome.interrupted
    assert clock.now == 14 and all(c.status == "running" for c in fake.containers.values())


def test_a_kill_the_restart_policy_undid_is_not_started_again(tmp_path: Path) -> None:
    fake, clock = fleet(), Clock()
    fake.restart_policy_restarts = True
    _, lines = run(fake, "  - {kind: kill, at: 0, seconds: 3, target: {names: [station-2]}}\n", tmp_path, clock)
    assert fake.commands() == ["kill --signal KILL s2"]
    assert lines[-1]["params"]["restarted_by"] == "policy"


def test_stopped_early_restores_at_once_and_skips_what_had_not_begun(tmp_path: Path) -> None:
    fake, clock = fleet(), Clock(stop_at=6)
    outcome, lines = run(fake, "  - {kind: pause, at: 1, seconds: 60, target: {names: [station-1]}}\n"
                               "  - {kind: network_cut, at: 2, seconds: 60, target: {names: [station-2]}}\n"
                               "  - {kind: broker_restart, at: 30, seconds: 5}\n", tmp_path, clock)
    assert fake.commands() == [
        "pause s1", "network disconnect --force p_default s2", "network disconnect --force p_other s2",
        "unpause s1", "network connect --alias=station-2 p_default s2", "network connect --alias=x p_other s2"]
    assert brief(lines) == [(1, "station-1", "pause", "begin"), (2, "station-2", "network_cut", "begin"),
                            (6, "station-1", "pause", "end"), (6, "station-2", "network_cut", "end")]
    assert outcome.interrupted and outcome.actions == 4


def test_a_failed_call_is_reported_not_recorded_and_the_rest_runs(tmp_path: Path) -> None:
    fake, clock = fleet(), Clock()
    fake.fail = {"pause"}
    outcome, lines = run(fake, "  - {kind: pause, at: 1, seconds: 2, target: {names: [station-1]}}\n"
                               "  - {kind: kill, at: 2, target: {names: [station-2]}}\n", tmp_path, clock)
    assert fake.commands() == ["pause s1", "kill --signal KILL s2"]
    assert brief(lines) == [(2, "station-2", "kill", "begin")]
    assert outcome.failures == ["pause station-1: `docker pause s1` failed: Error: it broke"]


def test_a_cut_that_fails_half_way_reconnects_what_it_cut(tmp_path: Path) -> None:
    fake, clock = fleet(), Clock()

    def flaky(argv, timeout):
        if argv[1:3] == ["network", "disconnect"] and argv[-2] == "p_other":
            import subprocess
            fake.calls.append(list(argv))
            return subprocess.CompletedProcess(argv, 1, b"", b"no\n")
        return fake(argv, timeout)

    docker = Docker(run=flaky)
    plan = make_plan(parse_scenario("seed: 1\nfleet:\n  - {kind: network_cut, at: 0, seconds: 1, "
                                    "target: {names: [station-2]}}\n"), docker.containers("p"), "p")
    truth = GroundTruthLog(tmp_path / "c.faults.jsonl", clock=clock.wall)
    outcome = ChaosRunner(docker, plan, truth, monotonic=clock.monotonic, wall=clock.wall).run(clock)
    assert fake.commands() == ["network disconnect --force p_default s2", "network disconnect --force p_other s2",
                               "network connect --alias=station-2 p_default s2"]
    assert len(outcome.failures) == 1 and outcome.actions == 0
