"""The engine's wiring of faults and metrics, through a real `Lane` with a fake publisher: what the counters say,
what each fault kind does to the published stream, and the ack window's rules (the checkpoint stays behind held
messages; dropped seqs resolve; extra copies resolve nothing)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from fleetcore.faults.truth import FaultTally, read_truth
from station.engine.instruments import Instruments
from station.engine.lane import Lane, LaneState
from station.engine.ledger import Extra
from station.engine.outage import Phase
from station.faults import open_faults
from station.metrics import StationMetrics
from station.publisher import Completion, ConnectionEvent
from station.scheduler import Pacer

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)
THING = "st-1"


class Record:
    __slots__ = ("line_number", "time", "parts")

    def __init__(self, n: int) -> None:
        self.line_number, self.time = n, T0 + timedelta(hours=n)
        self.parts = (b',"sent_at":"', b'","time":"%s","air_temperature":{"value":%d.5,"quality":"1"}}'
                      % (self.time.isoformat().encode(), n % 30))


class Feed:
    """`count` records, one pass."""

    file_error = None
    skipped = 0

    def __init__(self, count: int) -> None:
        self.records = [Record(n) for n in range(1, count + 1)]
        self.decoded = count
        self._i = 0

    def restart(self, skip_through: int, start_at: Any) -> None:
        self._i = skip_through

    def next(self) -> Record | None:
        if self._i >= len(self.records):
            return None
        self._i += 1
        return self.records[self._i - 1]


class Publisher:
    """Keeps every publish in flight until `ack()`; pause/resume as the real one (connects at once)."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.pending: list[Any] = []
        self.done: list[Completion] = []
        self.connected, self.connect_count, self.paused = True, 1, 0

    @property
    def inflight(self) -> int:
        return len(self.pending)

    def publish(self, payload: bytes, token: Any) -> None:
        self.sent.append((payload, token))
        self.pending.append(token)

    def ack(self, fail: set[int] = frozenset()) -> None:  # type: ignore[assignment]
        self.done += [Completion(t, t not in fail, None if t not in fail else "refused") for t in self.pending]
        self.pending = []

    def drain_completions(self) -> list[Completion]:
        out, self.done = self.done, []
        return out

    def pause(self) -> None:
        assert not self.pending, "a disconnect fault closed the connection with publishes in flight"
        self.connected, self.paused = False, self.paused + 1

    def resume(self) -> None:
        self.connected, self.connect_count = True, self.connect_count + 1


def sample(metrics: StationMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, {"group": "group-1", **labels})
    return 0.0 if value is None else value


def make_lane(tmp_path: Path, rules: str | None = None, *, metrics: StationMetrics | None = None
              ) -> tuple[Lane, Publisher]:
    instruments = Instruments(metrics=metrics)
    if rules is not None:
        scenario = tmp_path / "faults.yaml"
        scenario.write_text(f"{{seed: 3, rules: [{rules}]}}")
        instruments.faults = open_faults(scenario, tmp_path / "state", "group-1", started_at=0.0)
    lane = Lane(THING, tmp_path / "x.txt", tmp_path / "state")
    instruments.attach(lane)
    lane.publisher = pub = Publisher()
    return lane, pub


def replay(lane: Lane, count: int, *, ack_each: bool = False, pub: Publisher | None = None) -> None:
    assert lane.resume(Feed(count), "sha256:0", start_at=None, loop=False)
    more = lane.begin(Pacer(interval=0.0, origin=0.0), loop=False)
    while more:
        lane.publish(datetime.now(timezone.utc), None, 0.002)
        more = lane.advance(loop=False)
        if ack_each and pub is not None:
            pub.ack()
            lane.absorb("t")


def seqs(pub: Publisher, primary: bool = True) -> list[int]:
    return [t for _, t in pub.sent if t.__class__ is int] if primary else [t.seq for _, t in pub.sent
                                                                             if isinstance(t, Extra)]


def test_publish_100_ack_100_the_counters_say_so(tmp_path: Path) -> None:
    metrics = StationMetrics("group-1")
    lane, pub = make_lane(tmp_path, metrics=metrics)
    lane.state = LaneState.CONNECTING
    lane.connection_event(ConnectionEvent.CONNECTED)
    replay(lane, 100)
    assert sample(metrics, "weather_fleet_messages_published_total") == 0  # handed over by absorb, in one go
    lane.absorb("t")
    assert sample(metrics, "weather_fleet_messages_published_total") == 100
    assert sample(metrics, "weather_fleet_messages_in_flight") == 100
    pub.ack(fail={7})
    lane.absorb("t")
    assert sample(metrics, "weather_fleet_messages_acked_total") == 0, "synced at most every METRICS_SYNC_S"
    lane.flush_metrics()
    assert sample(metrics, "weather_fleet_messages_acked_total") == 99
    assert sample(metrics, "weather_fleet_messages_failed_total") == 1
    assert sample(metrics, "weather_fleet_messages_in_flight") == 0
    assert sample(metrics, "weather_fleet_schedule_lateness_seconds_count") == 100
    assert sample(metrics, "weather_fleet_schedule_lateness_seconds_bucket", le="0.005") == 100
    assert sample(metrics, "weather_fleet_schedule_lateness_seconds_bucket", le="0.001") == 0
    assert sample(metrics, "weather_fleet_schedule_lateness_seconds_sum") == pytest.approx(0.2)
    assert sample(metrics, "weather_fleet_last_publish_timestamp_seconds") > 0
    assert sample(metrics, "weather_fleet_connects_total") == 1
    assert sample(metrics, "weather_fleet_reconnects_total") == 0
    assert sample(metrics, "weather_fleet_stations", state="publishing") == 1
    assert sample(metrics, "weather_fleet_stations", state="connecting") == 0
    lane.state = LaneState.FINISHED
    assert sample(metrics, "weather_fleet_stations", state="finished") == 1
    assert lane.ledger.last_ack is not None and lane.ledger.last_ack[0] == 100
    assert (lane.summary.published, lane.summary.acknowledged, lane.summary.failed) == (100, 99, 1)


def test_no_instruments_publish_exactly_as_before(tmp_path: Path) -> None:
    lane, pub = make_lane(tmp_path)
    replay(lane, 20)
    assert lane.injector is None and lane.metrics is None
    assert seqs(pub) == list(range(1, 21)) and len(pub.sent) == 20
    assert json.loads(pub.sent[0][0])["seq"] == 1


# kind rule -> (primary seqs in publish order, extra copies' seqs, dropped); 20 messages, every fault seeded
KINDS = {
    "duplicate": ("{kind: duplicate, copies: 2, when: {every: 5}}", list(range(1, 21)), [5, 5, 10, 10, 15, 15, 20, 20]),
    "offline-drop": ("{kind: offline, mode: drop, when: {after: 3, until: 6}}",
                     [1, 2, 3] + list(range(7, 21)), []),
    "offline-buffer": ("{kind: offline, when: {after: 3, until: 6}}", list(range(1, 21)), []),
    "reorder": ("{kind: reorder, behind: 2, when: {after: 4, until: 5}}",
                [1, 2, 3, 4, 6, 7, 5] + list(range(8, 21)), []),
    "impersonate": ("{kind: impersonate, victim: st-9, when: {every: 10}}", list(range(1, 21)), [10, 20]),
    "malformed": ("{kind: malformed, variant: not_json, when: {after: 9, until: 10}}", list(range(1, 21)), []),
    "clock_skew": ("{kind: clock_skew, offset: 3600, when: {after: 18}}", list(range(1, 21)), []),
    "stuck": ("{kind: stuck, when: {after: 10, until: 12}}", list(range(1, 21)), []),
    "spike": ("{kind: spike, field: air_temperature, value: 99.9, when: {every: 7}}", list(range(1, 21)), []),
    "missing": ("{kind: missing, fields: [air_temperature], mode: absent, when: {every: 4}}", list(range(1, 21)), []),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_fault_kind_through_the_lane(tmp_path: Path, kind: str) -> None:
    rule, primaries, extras = KINDS[kind]
    metrics = StationMetrics("group-1")
    lane, pub = make_lane(tmp_path, rule, metrics=metrics)
    replay(lane, 20)
    assert seqs(pub) == primaries
    assert seqs(pub, primary=False) == extras
    pub.ack()
    lane.absorb("t")
    assert lane.ledger.last_ack[0] == 20  # every seq resolved: by its primary PUBACK, or dropped
    assert lane.summary.published == len(pub.sent) and lane.summary.inflight == 0
    bodies = {t: p for p, t in pub.sent if t.__class__ is int}
    fault = kind.split("-")[0]
    lane.truth.flush()
    injected = FaultTally.of(read_truth([tmp_path / "state" / "group-1.faults.jsonl"])).of_kind(THING, fault)
    assert sample(metrics, "weather_fleet_faults_injected_total", kind=fault) == len(injected) > 0
    if kind == "malformed":
        assert bodies[10].startswith(b"<") and injected == {10}
    elif kind == "clock_skew":
        assert json.loads(bodies[19])["sent_at"] > json.loads(bodies[18])["sent_at"]
        assert injected == {19, 20}
    elif kind == "stuck":
        values = [json.loads(bodies[s])["air_temperature"]["value"] for s in (10, 11, 12, 13)]
        assert values == [10.5, 10.5, 10.5, 13.5]
    elif kind == "spike":
        assert json.loads(bodies[7])["air_temperature"]["value"] == 99.9 and injected == {7, 14}
    elif kind == "missing":
        assert "air_temperature" not in json.loads(bodies[4]) and injected == {4, 8, 12, 16, 20}
    elif kind == "impersonate":
        forged = [json.loads(p) for p, t in pub.sent if isinstance(t, Extra)]
        assert [d["thing_name"] for d in forged] == ["st-9", "st-9"] and [d["seq"] for d in forged] == [10, 20]
    elif kind == "offline-drop":
        assert injected == {4, 5, 6}


def test_the_checkpoint_stays_behind_held_messages(tmp_path: Path) -> None:
    lane, pub = make_lane(tmp_path, "{kind: offline, when: {after: 3, until: 6}}")
    assert lane.resume(Feed(10), "sha256:0", start_at=None, loop=False)
    lane.begin(Pacer(interval=0.0, origin=0.0), loop=False)
    for _ in range(6):  # seqs 1..6: 4, 5, 6 held (offline, buffered)
        lane.publish(datetime.now(timezone.utc), None, 0.0)
        lane.advance(loop=False)
    pub.ack()
    lane.absorb("t")
    assert seqs(pub) == [1, 2, 3] and lane.ledger.last_ack[0] == 3  # not past the held 4
    lane.publish(datetime.now(timezone.utc), None, 0.0)  # seq 7: back online, the buffer goes first
    assert seqs(pub) == [1, 2, 3, 4, 5, 6, 7]
    pub.ack()
    lane.absorb("t")
    assert lane.ledger.last_ack[0] == 7


def test_delayed_messages_go_out_from_release_and_hold_the_checkpoint(tmp_path: Path) -> None:
    lane, pub = make_lane(tmp_path, "{kind: delay, seconds: 30, when: {every: 2, until: 2}}")
    assert lane.resume(Feed(10), "sha256:0", start_at=None, loop=False)
    lane.begin(Pacer(interval=0.0, origin=0.0), loop=False)
    for _ in range(4):
        lane.publish(datetime.now(timezone.utc), None, 0.0)
        lane.advance(loop=False)
    pub.ack()
    lane.absorb("t")
    assert seqs(pub) == [1, 3, 4] and lane.ledger.last_ack[0] == 1
    lane.release(time.time() + 1)
    assert seqs(pub) == [1, 3, 4]
    lane.release(time.time() + 31)
    assert seqs(pub) == [1, 3, 4, 2]
    pub.ack()
    lane.absorb("t")
    assert lane.ledger.last_ack[0] == 4


def test_dropped_seqs_resolve_and_extra_acks_resolve_nothing(tmp_path: Path) -> None:
    lane, pub = make_lane(tmp_path, "{kind: offline, mode: drop, when: {until: 2}}")
    assert lane.resume(Feed(3), "sha256:0", start_at=None, loop=False)
    lane.begin(Pacer(interval=0.0, origin=0.0), loop=False)
    lane.publish(datetime.now(timezone.utc), None, 0.0)
    lane.advance(loop=False)
    lane.publish(datetime.now(timezone.utc), None, 0.0)
    assert pub.sent == [] and lane.ledger.last_ack[0] == 2  # dropped at the source: resolved at once
    lane.ledger.sent(3, 3, 0)
    lane.publisher.publish(b"x", Extra(3))
    pub.ack()
    lane.absorb("t")
    assert lane.ledger.last_ack[0] == 2  # the copy's PUBACK does not stand for seq 3


def test_a_disconnect_waits_for_in_flight_then_closes_and_comes_back(tmp_path: Path) -> None:
    metrics = StationMetrics("group-1")
    lane, pub = make_lane(tmp_path, "{kind: disconnect, seconds: 10, when: {every: 3, until: 3}}", metrics=metrics)
    assert lane.resume(Feed(5), "sha256:0", start_at=None, loop=False)
    lane.begin(Pacer(interval=0.0, origin=0.0), loop=False)
    for _ in range(3):
        lane.publish(datetime.now(timezone.utc), None, 0.0)
        lane.advance(loop=False)
    assert lane.outage is not None
    assert lane.outage_step(100.0, "t") == pytest.approx(100.05)  # three in flight: wait
    assert pub.paused == 0
    pub.ack()
    assert lane.outage_step(100.1, "t") == pytest.approx(110.1)  # idle: closed for 10 s
    assert pub.paused == 1 and lane.outage.phase is Phase.DOWN and lane.ledger.last_ack[0] == 3
    assert lane.outage_step(105.0, "t") == pytest.approx(110.1)
    assert lane.outage_step(110.1, "t") == pytest.approx(110.15)  # started again
    lane.connection_event(ConnectionEvent.CONNECTED)
    assert lane.outage_step(110.2, "t") is None and lane.outage is None
    assert sample(metrics, "weather_fleet_reconnects_total") == 1
    assert sample(metrics, "weather_fleet_faults_injected_total", kind="disconnect") == 1


class RecordingWriter:
    """A BackgroundWriter's interface: keeps each submitted write, runs it when told."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, Any]] = []

    def submit(self, key: str, write: Any) -> None:
        self.jobs.append((key, write))


def test_the_ground_truth_is_flushed_on_the_writers_thread_before_the_checkpoint(tmp_path: Path) -> None:
    """The scheduler never waits for the ground truth's fsync: the flush goes with the checkpoint write, first."""
    lane, pub = make_lane(tmp_path, "{kind: duplicate, when: {every: 2}}")
    truth_file = tmp_path / "state" / "group-1.faults.jsonl"
    replay(lane, 4, ack_each=True, pub=pub)
    before = truth_file.read_text() if truth_file.exists() else ""
    writer = RecordingWriter()
    assert lane.save_checkpoint(writer)
    assert (truth_file.read_text() if truth_file.exists() else "") == before, "nothing written on the caller's thread"
    assert not lane.checkpoint_file.exists()
    [(key, write)] = writer.jobs
    write()
    tally = FaultTally.of(read_truth([truth_file]))
    assert key == THING and tally.of_kind(THING, "duplicate") == {2, 4}
    assert json.loads(lane.checkpoint_file.read_text())["seq"] == 4


def test_a_lane_syncs_its_metrics_at_most_every_metrics_sync_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The sync takes the process's metrics lock: a lane pays it once per METRICS_SYNC_S, not at every sweep."""
    from station.engine import lane as lane_module

    clock = [1000.0]
    monkeypatch.setattr(lane_module.time, "monotonic", lambda: clock[0])
    metrics = StationMetrics("group-1")
    lane, pub = make_lane(tmp_path, metrics=metrics)
    lane.state = LaneState.CONNECTING
    lane.connection_event(ConnectionEvent.CONNECTED)
    replay(lane, 10)
    lane.absorb("t")
    assert sample(metrics, "weather_fleet_messages_published_total") == 10
    pub.ack()
    clock[0] += lane_module.METRICS_SYNC_S - 0.1
    lane.absorb("t")
    assert sample(metrics, "weather_fleet_messages_acked_total") == 0
    clock[0] += 0.1
    lane.absorb("t")
    assert sample(metrics, "weather_fleet_messages_acked_total") == 10
    assert sample(metrics, "weather_fleet_schedule_lateness_seconds_count") == 10


def test_closing_the_instruments_syncs_every_lane(tmp_path: Path) -> None:
    metrics = StationMetrics("group-1")
    instruments = Instruments(metrics=metrics)
    lanes = []
    for name in ("st-1", "st-2"):
        lane = Lane(name, tmp_path / "x.txt", tmp_path / "state")
        instruments.attach(lane)
        lane.publisher = Publisher()
        lanes.append(lane)
    for lane in lanes:
        replay(lane, 3)
        lane.absorb("t")  # the first sync of each lane: at once
        lane.publisher.ack()
        lane.absorb("t")  # within METRICS_SYNC_S: not synced
    assert sample(metrics, "weather_fleet_messages_acked_total") == 0
    instruments.close()
    assert sample(metrics, "weather_fleet_messages_acked_total") == 6
