"""The ground-truth log (runs coalesced, durable on flush, merged on read) and the station-state reader."""

from __future__ import annotations

import json
from pathlib import Path

from fleetcore.faults.fleet_state import read_station_states
from fleetcore.faults.truth import FaultTally, GroundTruthLog, read_truth, truth_files, truth_path
from station import checkpoint as ckpt
from station import status
from station.status import State


def clock() -> float:
    return 1000.0


def test_consecutive_seqs_of_one_rule_are_one_line(tmp_path: Path) -> None:
    log = GroundTruthLog(truth_path(tmp_path, "group-1"), clock=clock)
    for seq in range(10, 20):
        log.record("a", "clock_skew", seq, {"offset": 2.0}, rule=0)
    log.record("a", "clock_skew", 25, {"offset": 2.0}, rule=0)
    log.record("b", "duplicate", 3, {"copies": 1}, rule=1)
    log.record("broker", "broker_restart", None, {"seconds": 5.0})
    assert not (tmp_path / "group-1.faults.jsonl").exists()  # nothing before a flush
    log.flush()
    lines = [json.loads(line) for line in (tmp_path / "group-1.faults.jsonl").read_text().splitlines()]
    assert lines == [
        {"t": 1000.0, "thing": "a", "kind": "clock_skew", "rule": 0, "seqs": [10, 19], "n": 10,
         "params": {"offset": 2.0}},
        {"t": 1000.0, "thing": "broker", "kind": "broker_restart", "params": {"seconds": 5.0}},
        {"t": 1000.0, "thing": "a", "kind": "clock_skew", "rule": 0, "seqs": [25, 25], "n": 1,
         "params": {"offset": 2.0}},
        {"t": 1000.0, "thing": "b", "kind": "duplicate", "rule": 1, "seqs": [3, 3], "n": 1,
         "params": {"copies": 1}},
    ]
    assert log.recorded == 13


def test_a_change_of_params_starts_a_new_run(tmp_path: Path) -> None:
    log = GroundTruthLog(tmp_path / "x.faults.jsonl", clock=clock)
    log.record("a", "malformed", 1, {"variant": "nan"}, rule=0)
    log.record("a", "malformed", 2, {"variant": "truncated"}, rule=0)
    log.flush()
    assert [r.seqs for r in read_truth([tmp_path / "x.faults.jsonl"])] == [(1, 1), (2, 2)]


def test_restarts_append_and_the_tally_counts_each_seq_once(tmp_path: Path) -> None:
    path = truth_path(tmp_path / "state", "station-1")
    for _ in range(2):  # the second process re-injects seqs 5..8 after a restart from an older checkpoint
        log = GroundTruthLog(path, clock=clock)
        log.start(seed=1)
        for seq in range(5, 9):
            log.record("station-1", "duplicate", seq, {"copies": 2}, rule=0)
        log.flush()
    with open(path, "a") as fh:
        fh.write('{"t": 1, "thing": "station-1", "ki')  # a torn line left by a kill -9
    records = read_truth(truth_files([tmp_path]))
    assert [r.kind for r in records] == ["start", "duplicate", "start", "duplicate"]
    tally = FaultTally.of(records)
    assert tally.of_kind("station-1", "duplicate") == {5, 6, 7, 8}
    assert tally.things() == {"station-1"}


def test_station_states_read_the_files_the_station_writes(tmp_path: Path) -> None:
    ckpt.save(ckpt.checkpoint_path(tmp_path, "station-1"), ckpt.Checkpoint(
        thing_name="station-1", data_file="/data/x.gz", fingerprint="sha256:0", line=40, seq=57, finished=True))
    status.write_status(status.status_path(tmp_path, "station-1"), State.FINISHED, published=60, acked=59,
                        failed=1, seq=60)
    ckpt.save(ckpt.checkpoint_path(tmp_path / "sub", "station-2"), ckpt.Checkpoint(
        thing_name="station-2", data_file="/data/y.gz", fingerprint="sha256:1", line=0, seq=0))
    states = read_station_states([tmp_path])
    assert sorted(states) == ["station-1", "station-2"]
    one, two = states["station-1"], states["station-2"]
    assert (one.acked_through, one.finished, one.published, one.acked, one.failed, one.last_seq) == (
        57, True, 60, 59, 1, 60)
    assert (two.acked_through, two.finished, two.published) == (0, False, None)
