"""Device faults on a station's message stream: each kind's effect, seeded repeatability, and the engine's
invariant (every stepped seq resolved exactly once: by its primary emission or as dropped)."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from fleetcore.faults.scenario import DeviceFault, parse_scenario
from fleetcore.faults.truth import FaultTally, GroundTruthLog, read_truth
from station.faults import open_faults
from station.faults.injector import Emission, FaultInjector, injector_for
from station.errors import ConfigError
from tests.support.synthetic import message

T0 = 1_700_000_000.0


def payload(seq: int, thing: str = "st-1") -> bytes:
    return json.dumps(message(thing, seq, float(seq)), separators=(",", ":")).encode()


def injector(tmp_path: Path, rules: str, seed: int = 1, thing: str = "st-1") -> FaultInjector:
    scenario = parse_scenario(f"{{seed: {seed}, rules: [{rules}]}}")
    inj = injector_for(scenario, thing, GroundTruthLog(tmp_path / "t.faults.jsonl"), T0)
    assert inj is not None
    return inj


def run(inj: FaultInjector, count: int, interval: float = 1.0, thing: str = "st-1") -> tuple[list[Emission], list[int]]:
    """Step seqs 1..count (one per `interval` seconds) then drain; all emissions and dropped seqs in order."""
    emitted, dropped = [], []
    for seq in range(1, count + 1):
        step = inj.step(seq, payload(seq, thing), T0 + seq * interval)
        emitted += step.emit
        dropped += step.dropped
    emitted += inj.drain()
    return emitted, dropped


def primaries(emitted: list[Emission]) -> list[int]:
    return [e.seq for e in emitted if e.primary]


def test_no_rule_for_the_station_means_no_injector(tmp_path: Path) -> None:
    scenario = parse_scenario("{seed: 1, rules: [{kind: duplicate, select: {names: [other]}}]}")
    assert injector_for(scenario, "st-1", GroundTruthLog(tmp_path / "t"), T0) is None


MIXED = ("{kind: duplicate, when: {probability: 0.1}, copies: 2}, {kind: reorder, behind: 3, when: {probability: 0.05}},"
         "{kind: delay, seconds: 5, when: {probability: 0.05}}, {kind: offline, when: {after: 100, until: 130}},"
         "{kind: offline, mode: drop, when: {after: 200, until: 210}}, {kind: malformed, when: {probability: 0.03}},"
         "{kind: clock_skew, offset: 3, when: {probability: 0.2}}, {kind: impersonate, when: {probability: 0.02}}")


def test_same_seed_same_faults_and_another_seed_others(tmp_path: Path) -> None:
    first = run(injector(tmp_path, MIXED, seed=5), 400)
    again = run(injector(tmp_path, MIXED, seed=5), 400)
    other = run(injector(tmp_path, MIXED, seed=6), 400)
    assert first == again
    assert first != other


def test_every_seq_is_resolved_exactly_once(tmp_path: Path) -> None:
    emitted, dropped = run(injector(tmp_path, MIXED, seed=5), 400)
    assert dropped == list(range(201, 211))
    assert sorted(primaries(emitted) + dropped) == list(range(1, 401))
    assert Counter(primaries(emitted)).most_common(1)[0][1] == 1


def test_duplicate_sends_identical_extra_copies_right_after(tmp_path: Path) -> None:
    emitted, _ = run(injector(tmp_path, "{kind: duplicate, copies: 2, when: {every: 4}}"), 8)
    assert [(e.seq, e.primary) for e in emitted] == [
        (1, True), (2, True), (3, True), (4, True), (4, False), (4, False), (5, True), (6, True), (7, True),
        (8, True), (8, False), (8, False)]
    assert emitted[4].payload == emitted[5].payload == emitted[3].payload == payload(4)


def test_reorder_holds_a_message_behind_the_next_k(tmp_path: Path) -> None:
    emitted, _ = run(injector(tmp_path, "{kind: reorder, behind: 2, when: {after: 2, until: 3}}"), 7)
    assert primaries(emitted) == [1, 2, 4, 5, 3, 6, 7]


def test_delay_goes_out_when_released_or_at_a_later_step(tmp_path: Path) -> None:
    inj = injector(tmp_path, "{kind: delay, seconds: 10, when: {every: 2, until: 2}}")
    assert primaries(inj.step(1, payload(1), T0).emit) == [1]
    assert inj.step(2, payload(2), T0 + 1).emit == []
    assert inj.release(T0 + 10.9) == [] and inj.held == 1
    assert [(e.seq, e.payload) for e in inj.release(T0 + 11)] == [(2, payload(2))]
    inj2 = injector(tmp_path, "{kind: delay, seconds: 10, when: {every: 2, until: 2}}")
    inj2.step(1, payload(1), T0)
    inj2.step(2, payload(2), T0 + 1)
    assert primaries(inj2.step(3, payload(3), T0 + 30).emit) == [2, 3]  # the late one first, then the current


def test_offline_buffer_flushes_in_one_burst_and_drop_drops_at_the_source(tmp_path: Path) -> None:
    inj = injector(tmp_path, "{kind: offline, when: {window: {start: 10, end: 20}}}")
    bursts = [primaries(inj.step(seq, payload(seq), T0 + seq).emit) for seq in range(8, 23)]
    assert bursts[:2] == [[8], [9]] and all(b == [] for b in bursts[2:12])
    assert bursts[12] == list(range(10, 21)) and bursts[13:] == [[21], [22]]
    emitted, dropped = run(injector(tmp_path, "{kind: offline, mode: drop, when: {after: 3, until: 5}}"), 7)
    assert primaries(emitted) == [1, 2, 3, 6, 7] and dropped == [4, 5]


def test_clock_skew_moves_sent_at_with_offset_and_drift_and_time_only_when_asked(tmp_path: Path) -> None:
    inj = injector(tmp_path, "{kind: clock_skew, offset: -2, drift: 36}")  # 36 s per hour = 0.01 s per s
    out = json.loads(inj.step(1, payload(1), T0 + 100).emit[0].payload)
    original = message("st-1", 1, 1.0)
    assert original["sent_at"] == "2025-12-31T01:00:00.250+00:00"
    assert out["sent_at"] == "2025-12-31T00:59:59.250+00:00"  # -2 s + 100 s * 0.01 = -1 s
    assert out["time"] == original["time"]
    inj = injector(tmp_path, "{kind: clock_skew, offset: 60, fields: [sent_at, time]}")
    out = json.loads(inj.step(1, payload(1), T0).emit[0].payload)
    assert out["time"] == "2022-01-01T01:01:00+00:00"


def test_stuck_repeats_the_reading_before_the_run(tmp_path: Path) -> None:
    emitted, _ = run(injector(tmp_path, "{kind: stuck, when: {after: 3, until: 6}}"), 8)
    temps = [json.loads(e.payload)["air_temperature"]["value"] for e in emitted]
    assert temps == [1.0, 2.0, 3.0, 3.0, 3.0, 3.0, 7.0, 8.0]


def test_spike_and_missing(tmp_path: Path) -> None:
    inj = injector(tmp_path, "{kind: spike, when: {every: 2}}, {kind: spike, field: wind_speed, value: -40, "
                   "when: {every: 3}}, {kind: missing, fields: [dew_point], when: {every: 5}}, "
                   "{kind: missing, fields: [sky_ceiling], mode: absent, when: {every: 5}}")
    docs = [json.loads(e.payload) for e in run(inj, 6)[0]]
    assert [d["air_temperature"]["value"] for d in docs] == [1.0, 99.9, 3.0, 99.9, 5.0, 99.9]
    assert [d["wind_speed"]["value"] for d in docs] == [3.1, 3.1, -40.0, 3.1, 3.1, -40.0]
    assert docs[4]["dew_point"] == {"value": None, "quality": "1"} and "sky_ceiling" not in docs[4]
    assert list(docs[3]) == list(message("st-1", 4, 4.0))  # field order kept


def strict_json(raw: bytes) -> object:
    return json.loads(raw, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))


@pytest.mark.parametrize("variant", ["not_json", "truncated", "nan"])
def test_malformed_payloads_are_not_strict_json(tmp_path: Path, variant: str) -> None:
    emitted, _ = run(injector(tmp_path, f"{{kind: malformed, variant: {variant}, when: {{every: 2, until: 2}}}}"), 3)
    assert primaries(emitted) == [1, 2, 3]
    with pytest.raises(ValueError):
        strict_json(emitted[1].payload)
    if variant == "nan":
        assert math.isnan(json.loads(emitted[1].payload)["air_temperature"]["value"])
    if variant == "truncated":
        assert emitted[1].payload == payload(2)[: len(payload(2)) // 2]


def test_malformed_wrong_type_keeps_thing_and_seq(tmp_path: Path) -> None:
    emitted, _ = run(injector(tmp_path, "{kind: malformed, variant: wrong_type, when: {every: 2, until: 2}}"), 2)
    doc = json.loads(emitted[1].payload)
    assert (doc["thing_name"], doc["seq"], doc["air_temperature"]["value"]) == ("st-1", 2, "2.0")


def test_malformed_any_picks_variants_by_seed(tmp_path: Path) -> None:
    inj = injector(tmp_path, "{kind: malformed, when: {every: 1}}")
    run(inj, 200)
    inj.truth.flush()
    variants = Counter(r.params["variant"] for r in read_truth([tmp_path / "t.faults.jsonl"]) for _ in range(r.n))
    assert set(variants) == {"not_json", "truncated", "wrong_type", "nan"}
    assert sum(variants.values()) == 200


def test_impersonate_sends_a_forged_extra_naming_the_victim(tmp_path: Path) -> None:
    emitted, _ = run(injector(tmp_path, "{kind: impersonate, victim: st-9, when: {every: 2, until: 2}}"), 3)
    assert [(e.seq, e.primary) for e in emitted] == [(1, True), (2, True), (2, False), (3, True)]
    forged = json.loads(emitted[2].payload)
    assert (forged["thing_name"], forged["seq"]) == ("st-9", 2)
    assert json.loads(emitted[1].payload)["thing_name"] == "st-1"


def test_disconnect_and_reconnect_storm_are_connection_actions(tmp_path: Path) -> None:
    rules = "{kind: reconnect_storm, seconds: 10, spread: 4, when: {window: {start: 5}, limit: 1}}"
    downs = []
    for thing in ("a", "b", "c"):
        inj = injector(tmp_path, rules, thing=thing)
        actions = [(seq, a) for seq in range(1, 10) for a in inj.step(seq, payload(seq, thing), T0 + seq).actions]
        assert [seq for seq, _ in actions] == [5]
        assert actions[0][1].kind is DeviceFault.RECONNECT_STORM
        downs.append(actions[0][1].down_s)
    assert all(10 <= d <= 14 for d in downs) and len(set(downs)) == 3
    again = injector(tmp_path, rules, thing="a")
    assert [a.down_s for s in range(1, 10) for a in again.step(s, payload(s, "a"), T0 + s).actions] == [downs[0]]
    inj = injector(tmp_path, "{kind: disconnect, seconds: 30, when: {every: 4}}")
    assert [a.down_s for s in range(1, 9) for a in inj.step(s, payload(s), T0 + s).actions] == [30.0, 30.0]


def test_the_ground_truth_holds_each_fault(tmp_path: Path) -> None:
    inj = injector(tmp_path, MIXED, seed=5)
    emitted, dropped = run(inj, 400)
    inj.truth.flush()
    tally = FaultTally.of(read_truth([tmp_path / "t.faults.jsonl"]))
    assert tally.of_kind("st-1", "offline") == set(range(101, 131)) | set(dropped)
    extras = [e for e in emitted if not e.primary]
    assert len(extras) == 2 * len(tally.of_kind("st-1", "duplicate")) + len(tally.of_kind("st-1", "impersonate"))


def test_open_faults_refuses_an_unresolved_count_and_writes_a_start_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nrules: [{kind: duplicate, select: {count: 3}}]\n")
    with pytest.raises(ConfigError, match=r"rules 0 select a count of stations"):
        open_faults(bad, tmp_path, "station-1")
    good = tmp_path / "good.json"
    good.write_text('{"seed": 3, "name": "demo", "rules": [{"kind": "duplicate"}]}')
    faults = open_faults(good, tmp_path / "state", "station-1", started_at=T0)
    assert faults.injector("station-1") is not None
    assert [r.params for r in read_truth([tmp_path / "state" / "station-1.faults.jsonl"])] == [
        {"process": "station-1", "seed": 3, "scenario": "demo"}]
