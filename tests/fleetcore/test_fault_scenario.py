"""The FAULTS file: validation with one line per problem, durations, seeded selection, count resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetcore.errors import ConfigError
from fleetcore.faults.scenario import (
    DeviceFault, Duplicate, Malformation, OfflineMode, Scenario, load_scenario, parse_duration, parse_scenario)

EXAMPLES = Path(__file__).resolve().parents[2] / "contracts" / "faults"
FLEET = [f"station-{i}" for i in range(1, 1001)]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_example_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.rules, path
    assert scenario.name == path.stem


def test_the_examples_are_shipped() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.yaml")) == [
        "bench-tenth", "lab-demo", "late-and-duplicates", "sensor-faults", "storm"]


def test_the_bench_scenario_touches_exactly_a_tenth_of_the_fleet() -> None:
    """`make bench-density` prices the fault machinery with 10 % of the stations faulted (issue 20)."""
    scenario = load_scenario(EXAMPLES / "bench-tenth.yaml")
    touched = {t for t in FLEET for i in range(len(scenario.rules)) if scenario.selects(i, t)}
    assert len(touched) == 100
    assert {len([t for t in FLEET if scenario.selects(i, t)]) for i in range(len(scenario.rules))} == {100}


def test_json_is_accepted_and_defaults_filled() -> None:
    scenario = parse_scenario('{"seed": 5, "rules": [{"kind": "duplicate"}, {"kind": "offline", "mode": "drop"}]}')
    assert isinstance(scenario.rules[0], Duplicate) and scenario.rules[0].copies == 1
    assert scenario.rules[0].kind is DeviceFault.DUPLICATE
    assert scenario.rules[1].mode is OfflineMode.DROP


@pytest.mark.parametrize("text,seconds", [("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0), ("2.5", 2.5),
                                          (7, 7)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_bad_file_gives_one_line_per_problem() -> None:
    text = """
seed: x
rules:
  - kind: duplicate
    copies: 0
  - kind: nope
  - kind: clock_skew
  - kind: delay
    when: {probability: 2, window: {start: 1h, end: 10m}}
  - kind: offline
    select: {fraction: 0.5, count: 3}
fleet:
  - {kind: pause, at: 1m}
"""
    with pytest.raises(ConfigError) as caught:
        parse_scenario(text, "FAULTS=bad.yaml")
    assert str(caught.value).splitlines() == [
        "FAULTS=bad.yaml: seed: Input should be a valid integer, unable to parse string as an integer (got 'x')",
        "FAULTS=bad.yaml: rules[0].duplicate.copies: Input should be greater than or equal to 1 (got 0)",
        "FAULTS=bad.yaml: rules[1]: unknown kind 'nope' (one of: offline, duplicate, reorder, delay, clock_skew, "
        "stuck, spike, missing, malformed, impersonate, disconnect, reconnect_storm)",
        "FAULTS=bad.yaml: rules[2].clock_skew: a clock_skew needs an offset or a drift",
        "FAULTS=bad.yaml: rules[3].delay.when.probability: Input should be less than or equal to 1 (got 2)",
        "FAULTS=bad.yaml: rules[3].delay.when.window: window end (600 s) must be after its start (3600 s)",
        "FAULTS=bad.yaml: rules[3].delay.seconds: Field required",
        "FAULTS=bad.yaml: rules[4].offline.select: give fraction or count, not both",
        "FAULTS=bad.yaml: fleet[0]: pause needs seconds > 0",
    ]


def test_not_yaml_and_not_a_mapping_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^FAULTS: not YAML or JSON at line 1"):
        parse_scenario("seed: [1")
    with pytest.raises(ConfigError, match="is a mapping with seed, rules and fleet, not list"):
        parse_scenario("[1, 2]")
    with pytest.raises(ConfigError, match=rf"^FAULTS={tmp_path}/none.yaml: cannot read it"):
        load_scenario(tmp_path / "none.yaml")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"rules\[0\]\.duplicate\.copy: Extra inputs are not permitted"):
        parse_scenario("{seed: 1, rules: [{kind: duplicate, copy: 2}]}")


def selected(scenario: Scenario) -> list[str]:
    return [t for t in FLEET if scenario.rules_for(t)]


def test_selection_by_fraction_is_seeded_and_close_to_the_fraction() -> None:
    text = "{seed: %d, rules: [{kind: duplicate, select: {fraction: 0.1}}]}"
    first, again, other = (selected(parse_scenario(text % seed)) for seed in (1, 1, 2))
    assert first == again
    assert first != other
    assert 70 <= len(first) <= 130


def test_selection_by_names_and_pattern() -> None:
    scenario = parse_scenario("{seed: 1, rules: [{kind: duplicate, select: {names: [station-1, station-20]}},"
                              " {kind: spike, select: {pattern: 'station-99?'}}]}")
    assert [t for t in FLEET if scenario.rules_for(t) and scenario.rules_for(t)[0][0] == 0] == [
        "station-1", "station-20"]
    assert [t for t in FLEET if any(i == 1 for i, _ in scenario.rules_for(t))] == [
        f"station-{i}" for i in range(990, 1000)]


def test_a_count_is_exact_once_resolved_with_the_fleet_and_refused_before() -> None:
    scenario = parse_scenario("{seed: 4, rules: [{kind: duplicate, select: {pattern: 'station-1*', count: 7}}]}")
    with pytest.raises(ConfigError, match="needs the fleet's names"):
        scenario.rules_for("station-1")
    resolved = scenario.resolved(FLEET)
    chosen = selected(resolved)
    assert len(chosen) == 7 and all(t.startswith("station-1") for t in chosen)
    assert selected(scenario.resolved(list(reversed(FLEET)))) == chosen  # the fleet's order does not matter
    assert selected(parse_scenario(resolved.model_dump_json())) == chosen  # what a station reads back


def test_malformation_enum_has_any() -> None:
    assert parse_scenario("{seed: 1, rules: [{kind: malformed}]}").rules[0].variant is Malformation.ANY
