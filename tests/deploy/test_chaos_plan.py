"""The chaos schedule: a scenario's `fleet:` section resolved against a compose project's containers, seeded."""

from __future__ import annotations

import pytest

from deploy.chaos.docker import Container
from deploy.chaos.errors import ConfigError
from deploy.chaos.plan import make_plan
from fleetcore.faults.scenario import FleetFault, parse_scenario

FLEET = [Container("b0", "broker", "p-broker-1"), Container("l0", "lake", "p-lake-1")] + \
        [Container(f"s{i}", f"station-{i}", f"p-station-{i}-1") for i in range(1, 11)]


def scenario(fleet: str, seed: int = 7):
    return parse_scenario(f"seed: {seed}\nfleet:\n{fleet}")


def test_broker_restart_targets_the_broker_and_names_select_exactly() -> None:
    plan = make_plan(scenario("  - {kind: pause, at: 5, seconds: 3, target: {names: [station-2, station-9]}}\n"
                              "  - {kind: broker_restart, at: 1m, seconds: 4, target: {names: [station-1]}}\n"),
                     FLEET, "p")
    assert [(s.kind, s.at, s.seconds, s.service, s.container) for s in plan.steps] == [
        (FleetFault.PAUSE, 5.0, 3.0, "station-2", "s2"), (FleetFault.PAUSE, 5.0, 3.0, "station-9", "s9"),
        (FleetFault.BROKER_RESTART, 60.0, 4.0, "broker", "b0")]
    assert plan.duration == 64.0


def test_count_and_fraction_are_seeded_and_never_touch_broker_or_lake() -> None:
    text = "  - {kind: kill, at: 0, target: {count: 3}}\n  - {kind: network_cut, at: 1, seconds: 2, " \
           "target: {fraction: 0.5, pattern: 'station-*'}}\n"
    first, again = make_plan(scenario(text), FLEET, "p"), make_plan(scenario(text), list(reversed(FLEET)), "p")
    assert first.steps == again.steps
    killed = [s.service for s in first.steps if s.kind is FleetFault.KILL]
    assert len(killed) == 3 and all(s.startswith("station-") for s in killed)
    cut = {s.service for s in first.steps if s.kind is FleetFault.NETWORK_CUT}
    assert 0 < len(cut) < 10 and all(s.startswith("station-") for s in cut)
    other = make_plan(scenario(text, seed=8), FLEET, "p")
    assert [s.service for s in other.steps] != [s.service for s in first.steps]


def test_an_action_selecting_nothing_is_refused_one_line_each() -> None:
    text = "  - {kind: pause, at: 1, seconds: 1, target: {names: [group-1]}}\n" \
           "  - {kind: kill, at: 2, target: {pattern: 'nope-*'}}\n"
    with pytest.raises(ConfigError) as err:
        make_plan(scenario(text), FLEET, "p", "FAULTS=x.yaml")
    lines = str(err.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("FAULTS=x.yaml: fleet[0] (pause) selects no container of compose project 'p'")
    assert lines[1].startswith("FAULTS=x.yaml: fleet[1] (kill) selects no container")


def test_no_broker_and_no_fleet_section_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"fleet\[0\] \(broker_restart\) selects no container"):
        make_plan(scenario("  - {kind: broker_restart, at: 1}\n"), FLEET[2:], "p")
    with pytest.raises(ConfigError, match="no `fleet:` section"):
        make_plan(parse_scenario("seed: 1\n"), FLEET, "p")
