"""The group's one scheduler, with a fake clock and fake publishers: deadlines, SPEEDUP, MAX_RATE, LOOP,
resume and failure isolation across many stations."""

from __future__ import annotations

import collections
import json
import random
from pathlib import Path

import pytest

from station.engine.lane import LaneState
from station.exit_codes import StopReason
from station.group.runtime import GroupRuntime
from station.group.settings import GroupSettings
from station.group.status import assess_group, group_status_path
from station.scheduler import Pacer
from tests.station.group.support import FakeClock, fake_factory, fake_identities, shard_of, write_isd

MINUTES = [0, 10, 20, 30, 60, 61, 120]  # observation minutes of the test file


def settings(tmp: Path, **values: object) -> GroupSettings:
    base = dict(shard_file=tmp / "shard.json", state_dir=tmp / "state", data_dir=tmp / "data",
                identities_dir=tmp / "ids", cache_dir=tmp / "cache", progress_interval=5.0, connect_rate=1000.0,
                connect_timeout=3.0)
    base.update(values)
    return GroupSettings(_env_file=None, **base)  # type: ignore[call-arg]


def group(tmp: Path, names: list[str], *, refuse: set[str] = set(), offsets: dict[str, int] | None = None,
          clock: FakeClock | None = None, **values: object) -> tuple[GroupRuntime, list, FakeClock]:
    (tmp / "data").mkdir(exist_ok=True)
    if not (tmp / "data" / "a").exists():
        write_isd(tmp / "data" / "a", MINUTES)
    fake_identities(tmp / "ids", names)
    clock = clock or FakeClock()
    log: list = []
    rt = GroupRuntime(settings(tmp, **values), shard_of(names, "a", offsets), clock=clock, now_utc=clock.utc,
                      sleep=clock.sleep, publisher_factory=fake_factory(clock, log, refuse),
                      rng=random.Random(7))
    return rt, log, clock


def by_station(log: list) -> dict[str, list[tuple[float, int, bytes]]]:
    out: dict[str, list] = collections.defaultdict(list)
    for t, name, seq, payload in log:
        out[name].append((t, seq, payload))
    return out


NAMES = [f"ws-{i}" for i in range(1, 41)]


def test_every_station_publishes_on_its_own_absolute_deadlines(tmp_path: Path) -> None:
    rt, log, clock = group(tmp_path, NAMES, speedup=60.0)  # one recorded minute per second
    assert rt.run() == 0
    per = by_station(log)
    assert sorted(per) == sorted(NAMES)
    times = [t for t, *_ in log]
    assert times == sorted(times), "the one scheduler sends in deadline order across stations"
    for name, sent in per.items():
        assert [seq for _, seq, _ in sent] == list(range(1, len(MINUTES) + 1))
        origin = sent[0][0]
        expected = [origin + m for m in MINUTES]  # deadlines from that station's connect, never cumulative
        assert [t for t, _, _ in sent] == pytest.approx(expected, abs=0.02)
        assert json.loads(sent[0][2])["thing_name"] == name
    origins = sorted(sent[0][0] for sent in per.values())
    assert origins[-1] - origins[0] == pytest.approx(len(NAMES) / 1000.0, abs=0.01), "connects are staggered"
    assert all(lane.state is LaneState.FINISHED for lane in rt.lanes)


def test_max_rate_caps_each_station(tmp_path: Path) -> None:
    rt, log, _ = group(tmp_path, NAMES[:10], speedup=3600.0, max_rate=2.0)
    assert rt.run() == 0
    for sent in by_station(log).values():
        pacer = Pacer(speedup=3600.0, max_rate=2.0, origin=sent[0][0])
        from tests.station.group.support import T0
        from datetime import timedelta

        expected = [pacer.next_deadline(T0 + timedelta(minutes=m)) for m in MINUTES]
        assert [t for t, _, _ in sent] == pytest.approx(expected, abs=0.02)
        gaps = [b[0] - a[0] for a, b in zip(sent, sent[1:])]
        assert min(gaps) >= 0.5 - 0.02


def test_loop_continues_seq_across_passes_until_stopped(tmp_path: Path) -> None:
    clock = FakeClock()
    rt, log, _ = group(tmp_path, NAMES[:5], clock=clock, interval=1.0, loop=True)
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        if clock.t > 1000.0 + 3 * len(MINUTES) + 0.5:
            rt.request_stop("SIGTERM")

    rt._sleep = sleep
    assert rt.run() == 0
    for sent in by_station(log).values():
        seqs = [seq for _, seq, _ in sent]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) >= 3 * len(MINUTES), "passes follow one another (LOOP)"
        gaps = [b[0] - a[0] for a, b in zip(sent, sent[1:])]
        assert gaps == pytest.approx([1.0] * len(gaps), abs=0.02), "INTERVAL holds across the pass boundary"
    assert all(lane.state is LaneState.STOPPED for lane in rt.lanes)


def test_restart_resumes_each_station_from_its_checkpoint(tmp_path: Path) -> None:
    clock = FakeClock()
    rt, log, _ = group(tmp_path, NAMES[:6], clock=clock, interval=1.0)
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        if clock.t > 1003.2:
            rt.request_stop("SIGTERM")

    rt._sleep = sleep
    rt.run()
    first = by_station(log)
    assert all(0 < len(v) < len(MINUTES) for v in first.values())
    rt2, log2, _ = group(tmp_path, NAMES[:6], clock=clock, interval=1.0)
    assert rt2.run() == 0
    second = by_station(log2)
    for name in NAMES[:6]:
        seqs = [s for _, s, _ in first[name]] + [s for _, s, _ in second[name]]
        assert seqs == list(range(1, len(MINUTES) + 1)), name  # no gap, no repeat (all were acknowledged)
    rt3, log3, _ = group(tmp_path, NAMES[:6], clock=clock, interval=1.0)
    assert rt3.run() == 0 and log3 == [], "a finished checkpoint means nothing to replay"


def test_start_offset_applies_to_a_fresh_start(tmp_path: Path) -> None:
    rt, log, _ = group(tmp_path, NAMES[:2], offsets={"ws-2": 3}, interval=0.0)
    assert rt.run() == 0
    per = by_station(log)
    assert len(per["ws-1"]) == len(MINUTES)
    assert len(per["ws-2"]) == len(MINUTES) - 3
    assert json.loads(per["ws-2"][0][2])["time"] == json.loads(per["ws-1"][3][2])["time"]


def test_one_failing_station_does_not_stop_the_others(tmp_path: Path) -> None:
    names = NAMES[:8]
    rt, log, _ = group(tmp_path, names, refuse={"ws-3"}, interval=0.5)
    (tmp_path / "ids" / "ws-5" / "private.key").unlink()  # a missing identity file
    assert rt.run() == 0
    per = by_station(log)
    assert set(per) == set(names) - {"ws-3", "ws-5"}
    assert all(len(v) == len(MINUTES) for v in per.values())
    states = {lane.name: lane.state for lane in rt.lanes}
    assert states["ws-3"] is LaneState.FAILED and states["ws-5"] is LaneState.FAILED
    assert "CONNECT_TIMEOUT" in (rt.lanes[2].summary.failure or "")
    status = json.loads(group_status_path(tmp_path / "state").read_text())
    assert status["states"]["failed"] == 2 and status["states"]["finished"] == 6
    healthy, reason = assess_group(status, max_age=30)
    assert healthy, reason


def test_all_stations_failed_is_unhealthy_and_exit_1(tmp_path: Path) -> None:
    names = NAMES[:3]
    rt, log, _ = group(tmp_path, names, refuse=set(names), interval=0.5)
    assert rt.run() == 1
    status = json.loads(group_status_path(tmp_path / "state").read_text())
    healthy, reason = assess_group(status, max_age=30)
    assert not healthy and "all 3 stations failed" in reason


def group_summary(caplog: pytest.LogCaptureFixture) -> dict:
    return next(r.fields for r in caplog.records if getattr(r, "event", "") == "group-summary")


def test_every_identity_missing_exits_2_like_a_single_stations_config_error(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    names = NAMES[:3]
    rt, log, _ = group(tmp_path, names, interval=0.5)
    for name in names:
        (tmp_path / "ids" / name / "private.key").unlink()
    with caplog.at_level("INFO", logger="station.group"):
        assert rt.run() == 2
    assert log == []
    assert group_summary(caplog)["reason"] == "failed"


def test_data_the_container_may_not_read_exits_2_naming_data_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DATA_DIR private to another user on the host (mode 0700): every open is refused (EACCES)."""
    names = NAMES[:2]
    rt, log, _ = group(tmp_path, names, interval=0.5)

    def refused(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("station.group.prepare.source_digest", refused)
    assert rt.run() == 2
    failure = rt.lanes[0].summary.failure or ""
    assert failure.startswith(f"data file not readable: {tmp_path / 'data' / 'a'} (Permission denied for uid ")
    assert f"DATA_DIR={tmp_path / 'data'}" in failure and "chmod o+rx" in failure


def test_every_data_file_damaged_exits_3(tmp_path: Path) -> None:
    rt, log, _ = group(tmp_path, NAMES[:2], interval=0.5)
    (tmp_path / "data" / "a").write_bytes(b"not an ISD line at all\n")
    assert rt.run() == 3
    assert all("damaged" in (lane.summary.failure or "") for lane in rt.lanes)


def test_stations_failing_for_different_reasons_exit_1(tmp_path: Path) -> None:
    names = NAMES[:2]
    rt, log, _ = group(tmp_path, names, refuse={"ws-1"}, interval=0.5)
    (tmp_path / "ids" / "ws-2" / "certificate.pem").unlink()
    assert rt.run() == 1


def test_damaged_file_fails_only_its_stations(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_isd(tmp_path / "data" / "a", MINUTES)
    (tmp_path / "data" / "b.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")  # not a readable gzip
    names = ["ws-1", "ws-2"]
    fake_identities(tmp_path / "ids", names)
    clock = FakeClock()
    log: list = []
    from fleetcore.shard import Shard, ShardThing

    names = ["ws-1", "ws-2", "ws-3"]
    fake_identities(tmp_path / "ids", names)
    shard = Shard(1, (ShardThing("ws-1", "a"), ShardThing("ws-2", "missing-file"), ShardThing("ws-3", "b.gz")))
    rt = GroupRuntime(settings(tmp_path, interval=0.0), shard, clock=clock, now_utc=clock.utc, sleep=clock.sleep,
                      publisher_factory=fake_factory(clock, log))
    assert rt.run() == 0
    assert {name for _, name, _, _ in log} == {"ws-1"}
    data = tmp_path / "data"
    assert rt.lanes[1].summary.failure == (f"data file not found: {data / 'missing-file'} (DATA_DIR={data}, "
                                           "data_file in the shard)")
    assert rt.lanes[2].summary.failure == f"data file {data / 'b.gz'} is damaged: {open_cache_error(data / 'b.gz')}"
    assert [lane.summary.reason for lane in rt.lanes[1:]] == [StopReason.CONFIG_ERROR, StopReason.FILE_DAMAGED]
    assert [lane.state for lane in rt.lanes] == [LaneState.FINISHED, LaneState.FAILED, LaneState.FAILED]


def open_cache_error(path: Path) -> str | None:
    """The file error a cache of `path` records (reading the file on its own, as the runtime does)."""
    from station.engine.cache import open_cache

    cache, _ = open_cache(path, path.parent / "probe-cache", shifted=False)
    try:
        assert cache.file_error is not None and len(cache) == 0
        return cache.file_error
    finally:
        cache.close()


def test_connects_under_way_are_bounded(tmp_path: Path) -> None:
    """A broker that does not answer: at most max(20, 2 x CONNECT_RATE) connects are under way at once."""
    names = [f"slow-{i}" for i in range(60)]
    clock = FakeClock()
    rt, _, _ = group(tmp_path, names, refuse=set(names), clock=clock, connect_rate=5.0, connect_timeout=10.0,
                     interval=1.0)
    seen: list[int] = []
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        seen.append(sum(1 for lane in rt.lanes if lane.state is LaneState.CONNECTING))

    rt._sleep = sleep
    assert rt.run() == 1  # none ever connected
    assert max(seen) == 20
    assert all(lane.state is LaneState.FAILED for lane in rt.lanes)


def test_a_station_that_connects_after_its_timeout_recovers(tmp_path: Path) -> None:
    names = NAMES[:3]
    clock = FakeClock()
    rt, log, _ = group(tmp_path, names, refuse={"ws-2"}, clock=clock, connect_timeout=2.0, interval=1.0)
    real_sleep = clock.sleep
    state: dict[str, object] = {}

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        lane = rt.lanes[1]
        if lane.state is LaneState.FAILED and "failed_at" not in state:
            state["failed_at"] = clock.t
            state["status"] = rt.report.states()[LaneState.FAILED]
            pub = lane.publisher
            pub.refuse = False
            pub.start()  # the broker lets it in at last (the client was never stopped)

    rt._sleep = sleep
    assert rt.run() == 0
    assert state["status"] == 1 and "failed_at" in state
    per = by_station(log)
    assert [s for _, s, _ in per["ws-2"]] == list(range(1, len(MINUTES) + 1))
    assert all(lane.state is LaneState.FINISHED for lane in rt.lanes)


def test_loop_set_after_a_finished_run_starts_the_next_pass(tmp_path: Path) -> None:
    """Regression: with LOOP=true a finished checkpoint started nothing ("... or set LOOP=true")."""
    clock = FakeClock()
    rt, log, _ = group(tmp_path, NAMES[:2], clock=clock, interval=1.0)
    assert rt.run() == 0 and all(lane.state is LaneState.FINISHED for lane in rt.lanes)
    rt2, log2, _ = group(tmp_path, NAMES[:2], clock=clock, interval=1.0, loop=True)
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        if len(log2) >= 2 * len(MINUTES):
            rt2.request_stop("SIGTERM")

    rt2._sleep = sleep
    assert rt2.run() == 0
    for name, sent in by_station(log2).items():
        assert [seq for _, seq, _ in sent][:3] == [len(MINUTES) + 1, len(MINUTES) + 2, len(MINUTES) + 3], name
        assert [json.loads(p)["time"] for _, _, p in sent][:2] == [json.loads(p)["time"] for _, _, p in
                                                                   by_station(log)[name][:2]]  # from line 1
    assert [lane.summary.passes for lane in rt2.lanes] == [2, 2]  # pass 2 (the first LOOP one) done, pass 3 loaded
