"""A group behind schedule (issue 22): back-pressure instead of unbounded queues, lateness instead of lost
connections, a checkpoint write budget, and one `group-overloaded` line per interval (fake clock, fake clients)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from station.engine.lane import LaneState
from station.group import runtime as runtime_module
from station.group.status import group_status_path
from station.publisher import Completion
from tests.station.group.test_group_scheduler import NAMES, by_station, group


def test_a_lane_whose_client_is_disconnected_waits_instead_of_queueing(tmp_path: Path) -> None:
    """Regression: lanes went on publishing into a disconnected client's offline queue (in-flight grew to
    58,393 in one group at 10,000 stations), and their lateness stayed low while nothing reached the broker."""
    rt, log, clock = group(tmp_path, NAMES[:2], interval=1.0)
    real_sleep = clock.sleep
    seen: dict[str, Any] = {}

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        pub = rt.lanes[0].publisher
        if pub is None:
            return
        if "cut" not in seen and clock.t > 1002.5:
            seen["cut"], seen["sent"] = clock.t, len(by_station(log)["ws-1"])
            pub.connected = False
        elif "cut" in seen and "back" not in seen and clock.t > seen["cut"] + 3.0:
            seen["back"], seen["sent_while_cut"] = clock.t, len(by_station(log)["ws-1"]) - seen["sent"]
            pub.connected = True

    rt._sleep = sleep
    assert rt.run() == 0
    assert seen["sent_while_cut"] == 0, "nothing published while the client was disconnected"
    sent = by_station(log)["ws-1"]
    assert [seq for _, seq, _ in sent] == list(range(1, 8)), "every record, in order, after the reconnect"
    late = [t for t, seq, _ in sent if t > seen["back"] - 0.01]
    assert late and late[0] == pytest.approx(seen["back"], abs=0.11), "the overdue record goes as soon as it is back"
    assert rt.lanes[0].summary.lateness_max >= 2.5
    assert rt.held_back > 0
    assert len(by_station(log)["ws-2"]) == 7


class HoldingPublisher:
    """Connects at once and keeps every completion until `release()` (a broker slow to acknowledge)."""

    def __init__(self, clock: Any, log: list, config: Any, on_event: Any) -> None:
        self.clock, self.log, self.config, self._on_event = clock, log, config, on_event
        self.connected, self.connect_count, self.disconnect_count, self.last_error = False, 0, 0, None
        self.held: list[Completion] = []
        self.ready: list[Completion] = []

    @property
    def inflight(self) -> int:
        return len(self.held) + len(self.ready)

    def start(self) -> None:
        self.connected, self.connect_count = True, 1
        self._on_event(runtime_module.ConnectionEvent.CONNECTED, "")

    def publish(self, payload: bytes, token: Any) -> None:
        self.log.append((self.clock(), self.config.client_id, token, payload))
        self.held.append(Completion(token, True, None))

    def release(self) -> None:
        self.ready += self.held
        self.held = []

    def drain_completions(self) -> list[Completion]:
        out, self.ready = self.ready, []
        return out

    def request_stop(self) -> None:
        self.connected = False


def holding_publishers(rt: Any, clock: Any, log: list) -> list[HoldingPublisher]:
    """Make `rt`'s clients HoldingPublishers; the list fills as they are made."""
    made: list[HoldingPublisher] = []

    def factory(config: Any, topic: str, max_inflight: int, on_event: Any) -> HoldingPublisher:
        made.append(HoldingPublisher(clock, log, config, on_event))
        return made[-1]

    rt._factory = factory
    return made


def test_the_groups_inflight_is_capped_and_publishing_resumes_when_acks_come(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "MIN_INFLIGHT_CAP", 10)
    names = NAMES[:4]  # cap: max(10, 2 x 4) = 10 in flight for the whole group
    rt, log, clock = group(tmp_path, names, interval=0.1, loop=True)
    made = holding_publishers(rt, clock, log)
    real_sleep = clock.sleep
    peak: list[int] = []

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        peak.append(sum(p.inflight for p in made))
        if 1003.0 < clock.t < 1003.2:
            for p in made:
                p.release()
        if clock.t > 1006.0:
            for p in made:
                p.release()
            rt.request_stop("SIGTERM")

    rt._sleep = sleep
    assert rt.inflight_cap == 10
    assert rt.run() == 0
    assert max(peak) == 10, "never more than the cap in flight across the group"
    assert len(log) > 10, "publishing went on once acknowledgements came"
    assert {name for _, name, *_ in log} == set(names), "back-pressure keeps every lane's place: none starves"
    assert rt.held_back > 0


def test_checkpoint_writes_stay_within_the_groups_budget_round_robin(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "CHECKPOINT_WRITES_PER_S", 3)
    rt, _, clock = group(tmp_path, NAMES[:8], interval=0.25, loop=True)
    writes: list[tuple[float, str]] = []

    class CountingWriter:
        def submit(self, key: str, write: Any) -> None:
            writes.append((clock.t, key))

        def flush(self, timeout: float = 10.0) -> None:
            pass

        def close(self) -> None:
            pass

    rt._writer = CountingWriter()  # type: ignore[assignment]
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        if clock.t > 1010.0:
            rt.request_stop("SIGTERM")

    rt._sleep = sleep
    assert rt.run() == 0
    running = [key for t, key in writes if t < 1010.0]  # the final checkpoints of the stop are not budgeted
    per_second: dict[int, int] = {}
    for t, _key in writes:
        if t < 1010.0:
            per_second[int(t)] = per_second.get(int(t), 0) + 1
    assert max(per_second.values()) <= 3
    assert set(running) == set(NAMES[:8]), "round robin: every station's checkpoint is written in turn"
    assert {key for t, key in writes if t >= 1010.0} == set(NAMES[:8]), "every station's final checkpoint"


def test_a_group_behind_schedule_says_so_once_per_interval(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    rt, log, clock = group(tmp_path, NAMES[:3], interval=0.5, loop=True, progress_interval=2.0)
    real_sleep = clock.sleep
    cut: dict[str, Any] = {"at": None}

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        if rt.lanes[0].publisher is not None and cut["at"] is None and clock.t > 1001.0:
            cut["at"] = clock.t
            for lane in rt.lanes:
                lane.publisher.connected = False  # no lane can publish: the group falls behind
        if clock.t > 1009.0 and not rt.stop.is_set():
            rt.report._writer.flush()  # the status file written during the run (its writer is a thread)
            cut["status"] = json.loads(group_status_path(tmp_path / "state").read_text())
            rt.request_stop("SIGTERM")

    rt._sleep = sleep
    caplog.set_level(logging.INFO, logger="station.group")
    assert rt.run() == 0
    over = [r for r in caplog.records if getattr(r, "event", None) == "group-overloaded"]
    progress = [r for r in caplog.records if getattr(r, "event", None) == "group-progress"]
    assert 2 <= len(over) <= len(progress), "at most one line per progress interval"
    text = over[-1].getMessage()
    behind = over[-1].fields["behind_s"]
    assert 6.0 <= behind <= 8.0 and over[-1].fields["connected"] == 0
    assert f"behind schedule by {behind:.1f} s, 0 of 6 msg/s scheduled (0%)" in text, text
    status = cut["status"]
    assert status["behind_s"] > 6.0 and status["overloaded"] is True and status["connected"] == 0
    assert all(lane.state is LaneState.STOPPED for lane in rt.lanes)


def test_back_pressure_starves_no_station(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a lane held back by the in-flight cap was pushed to "now + retry", behind every overdue lane,
    and starved while the group was behind (stations with no message at all after 30 s at 3x capacity)."""
    monkeypatch.setattr(runtime_module, "MIN_INFLIGHT_CAP", 5)
    monkeypatch.setattr(runtime_module, "INFLIGHT_PER_STATION", 0)  # cap: 5 in flight for 40 stations
    names = [f"st-{i}" for i in range(40)]
    rt, log, clock = group(tmp_path, names, interval=0.05, loop=True)
    made = holding_publishers(rt, clock, log)
    real_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        real_sleep(seconds)
        for p in made:  # acknowledged at each scheduler sleep: at most 5 per sleep, far less than the 800/s asked
            p.release()
        if clock.t > 1010.0:
            rt.request_stop("SIGTERM")

    rt._sleep = sleep
    assert rt.inflight_cap == 5
    assert rt.run() == 0
    counts = {name: 0 for name in names}
    for _, name, *_ in log:
        counts[name] += 1
    assert min(counts.values()) >= 0.5 * max(counts.values()), counts


def test_overdue_publishes_never_keep_stations_from_connecting(tmp_path: Path) -> None:
    """Regression: with INTERVAL=0 (as fast as possible) a connected station's deadlines never move, so its heap
    entries always came before every later connect slot: 229 of 300 stations never connected (real broker)."""
    from tests.station.group.support import FakeClock

    class CpuClock(FakeClock):  # time passes as the scheduler works (10 µs a call), not only when it sleeps
        def __call__(self) -> float:
            self.t += 1e-5
            return self.t

    clock = CpuClock()
    names = NAMES[:5]
    rt, log, _ = group(tmp_path, names, clock=clock, interval=0.0, loop=True, connect_rate=100.0)
    publish = rt._publish_due

    def publish_due(index: int) -> None:
        publish(index)
        if len(log) > 20_000:
            rt.request_stop("SIGTERM")

    rt._publish_due = publish_due  # type: ignore[method-assign]
    assert rt.run() == 0
    assert set(by_station(log)) == set(names), "every station connected and published"
