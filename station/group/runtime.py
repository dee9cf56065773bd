"""The group host: one process, one scheduler, many stations (engine lanes), each with its own MQTT5 client.

- All clients share ONE awscrt EventLoopGroup + ClientBootstrap; each has client id = thing name and its own
  mutual-TLS identity, persistent session, offline queue and PUBACK checks (`station.publisher.Publisher`).
- Min-heaps of (due time, token, lane): one for connect slots and connect timeouts (served first), one for publish
  deadlines; no thread per station. A lane rescheduled gets a new token; older heap entries are skipped. A lane
  behind schedule is pushed at max(deadline, now): round robin among the overdue ones.
- Connects go through one group-wide `ConnectSlots` (CONNECT_RATE per second, jittered within each slot); the
  clients' reconnect back-off starts at the time the group needs at that rate (`station.engine.connect`).
- A lane that fails (refused certificate / no connection within CONNECT_TIMEOUT, missing identity, unreadable,
  damaged or empty file) is logged and counted; the others go on. The exit code is non-zero only when every lane
  failed (`group_exit_code`: a single station's code when all failed alike, else 1).
- Every replay step is the engine lane's (`station.engine.lane`): this module only decides when.

Overload (issue 22, docs/density.md): when the host cannot keep up the group falls behind schedule instead of
queueing without bound or losing its connections:
- a lane whose client is not connected does not publish (its deadline stays; lateness grows) rather than filling
  the client's offline queue;
- in-flight publishes of the whole group are bounded (`inflight_cap`): at the cap, due lanes wait (back-pressure);
- checkpoint writes are a group-wide budget (`CHECKPOINT_WRITES_PER_S`, round robin): each lane's checkpoint is at
  most max(CHECKPOINT_INTERVAL, stations / budget) seconds old (one fsync per publishing station per second cost
  as much CPU as the publishes themselves at 10,000 stations);
- the scheduler thread never holds the GIL for more than `MAX_HOLD_S` at a stretch: it sleeps `YIELD_S` so the
  CRT event-loop thread (which takes the GIL for every PUBACK) keeps reading its sockets, pings included;
- `GroupReport` says once per progress interval that the group is overloaded and by how much.

Over 400 lines because the scheduler loop, its lane steps and the back-pressure share one hot path's state
(heaps, in-flight count, pause); the back-pressure (`_held_back`, `_recount_inflight`) is the next to move out.
"""

from __future__ import annotations

import collections
import gc
import heapq
import logging
import math
import random
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from fleetcore.shard import Shard
from fleetcore.target import Target
from station.engine.connect import ConnectSlots, connection_config
from station.engine.instruments import Instruments
from station.engine.lane import Lane, LaneState
from station.engine.writer import BackgroundWriter
from station.exit_codes import ExitCode, StopReason
from station.group.prepare import DataFiles, fail, prepare
from station.group.report import GroupReport
from station.group.settings import GroupSettings
from station.logging_setup import emit
from station.publisher import ConnectionConfig, ConnectionEvent, Publisher
from station.settings import TimeMode

log = logging.getLogger("station.group")

BATCH = 512            # due entries handled before looking at connection events and housekeeping again
FULL_WINDOW_RETRY = 0.005  # seconds before a lane whose in-flight window is full tries again
MAX_FAILURES_SHOWN = 5  # failed-publish lines logged per station (then counted only)
CHECKPOINT_WRITES_PER_S = 100  # checkpoint files written per second by one group at most (round robin)
DISCONNECTED_RETRY = 0.1  # seconds before a lane whose client is not connected looks again
BACKPRESSURE_RETRY = 0.02  # seconds before a lane held back by the group's in-flight cap tries again
INFLIGHT_PER_STATION = 2  # the group's in-flight cap: this many per station, at least MIN_INFLIGHT_CAP
MIN_INFLIGHT_CAP = 1000
MAX_HOLD_S = 0.02  # the scheduler thread's longest stretch of work before it lets the CRT thread run
YIELD_S = 0.001
SWITCH_INTERVAL_S = 0.001  # GIL hand-over request interval (CPython's default 5 ms starves the CRT thread)
# The scheduler's timing granularity: it sleeps at least this long, then sends everything due. One wake-up (and one
# wake-up of the CRT event loop, which `client.publish` from another thread costs) for several publishes instead
# of one per publish; lateness grows by at most this much.
COALESCE_S = 0.005

PublisherFactory = Callable[[ConnectionConfig, str, int, Callable[[ConnectionEvent, str], None]], Any]


def group_exit_code(lanes: list[Lane]) -> ExitCode:
    """OK unless every lane failed; then a single station's code for that failure when all failed alike
    (2: configuration, 3: damaged data), else 1."""
    if not lanes or any(lane.state is not LaneState.FAILED for lane in lanes):
        return ExitCode.OK
    codes = {lane.summary.reason.exit_code for lane in lanes}
    return codes.pop() if len(codes) == 1 else ExitCode.CONNECT_FAILED


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def shared_bootstrap(threads: int = 1) -> Any:
    """One event loop group, host resolver and client bootstrap for every client of the process."""
    from awscrt import io

    elg = io.EventLoopGroup(threads)
    return io.ClientBootstrap(elg, io.DefaultHostResolver(elg))


class GroupRuntime:
    """Runs every thing of `shard` (see module docstring)."""

    def __init__(self, settings: GroupSettings, shard: Shard, *, clock: Callable[[], float] = time.monotonic,
                 now_utc: Callable[[], datetime] = utc_now, sleep: Callable[[float], None] | None = None,
                 publisher_factory: PublisherFactory | None = None, rng: random.Random | None = None,
                 write_state: bool = True, instruments: Instruments | None = None) -> None:
        s = self.s = settings
        self.shard = shard
        self.clock = clock
        self.now_utc = now_utc
        self.stop = threading.Event()
        self.stop_reason = StopReason.FINISHED
        self._wake = threading.Event()
        self._sleep = sleep or self._wait
        self._factory = publisher_factory
        self._bootstrap: Any = None
        self._events: collections.deque[tuple[int, ConnectionEvent, str]] = collections.deque()
        self._heap: list[tuple[float, int, int]] = []
        self._connect_heap: list[tuple[float, int, int]] = []
        self._counter = 0
        self._writer = BackgroundWriter() if write_state else None
        self._stopped: set[int] = set()
        self._summarised: set[int] = set()
        self._pending_connects = 0
        self._inflight = 0  # published and not yet seen resolved, all lanes (recounted at each sweep)
        self._next_recount = 0.0
        self._paused_until = 0.0  # back-pressure: no publish before this (the group's in-flight is at its cap)
        self._checkpoint_cursor = 0
        self.held_back = 0  # due publishes deferred by back-pressure or a lost connection (for the report)
        self._yield: Callable[[float], None] = time.sleep if sleep is None else (lambda _s: None)
        self._files = DataFiles()
        self.slots = ConnectSlots(s.effective_connect_rate, rng)
        self.lanes = [Lane(t.thing_name, s.data_dir / t.data_file, s.state_dir / t.thing_name,
                           start_offset=t.start_offset, fields={"thing": t.thing_name}, detail=logging.DEBUG,
                           max_failures_shown=MAX_FAILURES_SHOWN) for t in shard.things]
        if instruments is not None:
            for lane in self.lanes:
                instruments.attach(lane)
        # In-flight publishes of the whole group at most (bounds the memory of unacknowledged messages).
        self.inflight_cap = min(max(MIN_INFLIGHT_CAP, INFLIGHT_PER_STATION * len(self.lanes)),
                                s.max_inflight * max(1, len(self.lanes)))
        self.report = GroupReport(self, write_state)

    # --- control ---------------------------------------------------------------------------------------------
    def request_stop(self, reason: StopReason | str) -> None:
        self.stop_reason = StopReason(reason)
        self.stop.set()
        self._wake.set()

    def _wait(self, timeout: float) -> None:
        if timeout > 0:
            self._wake.wait(timeout)
        self._wake.clear()

    def _on_event(self, index: int, kind: ConnectionEvent, text: str) -> None:
        """Publisher lifecycle callback (CRT thread): queued for the scheduler thread."""
        self._events.append((index, kind, text))
        self._wake.set()

    def _push(self, index: int, at: float, heap: list[tuple[float, int, int]] | None = None) -> None:
        self._counter += 1
        self.lanes[index].token = self._counter
        heapq.heappush(self._heap if heap is None else heap, (at, self._counter, index))

    def _push_connect(self, index: int, at: float) -> None:
        """Connect slots and connect timeouts have a heap of their own, served before any publish: overdue
        publishes (a group behind schedule, or INTERVAL=0) must never keep stations from connecting."""
        self._push(index, at, self._connect_heap)

    # --- connections -----------------------------------------------------------------------------------------
    def _identity_problems(self, lane: Lane) -> list[str]:
        problems = self.s.identity_in(self.s.identities_dir / lane.name).problems("IDENTITIES_DIR")
        if self.s.target is Target.AWS:
            problems = [p for p in problems if "CA certificate not found" not in p]
        return problems

    @property
    def _max_pending_connects(self) -> int:
        """Connections under way at most: a slow broker (TLS handshakes queue up) gets fewer new ones, instead of
        every station running into CONNECT_TIMEOUT."""
        return max(20, int(2 * self.slots.rate))

    def connection_config(self, lane: Lane) -> ConnectionConfig:
        return connection_config(self.s, lane.name, self.s.identity_in(self.s.identities_dir / lane.name),
                                 min_reconnect_ms=self.slots.reconnect_floor_ms(len(self.lanes)),
                                 bootstrap=self._bootstrap)

    def _new_publisher(self, index: int) -> Any:
        lane = self.lanes[index]
        on_event = lambda kind, text, i=index: self._on_event(i, kind, text)  # noqa: E731
        if self._factory is not None:
            return self._factory(self.connection_config(lane), self.s.topic, self.s.max_inflight, on_event)
        if self._bootstrap is None:
            self._bootstrap = shared_bootstrap()
        return Publisher(self.connection_config(lane), self.s.topic, max_inflight=self.s.max_inflight,
                         on_event=on_event)

    def _connect(self, index: int, now: float) -> None:
        lane = self.lanes[index]
        if self._pending_connects >= self._max_pending_connects:
            self._push_connect(index, now + 1.0 / self.slots.rate)  # keeps its place in the queue
            return
        try:
            lane.publisher = self._new_publisher(index)
            lane.publisher.start()
        except Exception as exc:  # noqa: BLE001 - awscrt raises plain exceptions for unreadable PEM files
            fail(lane, f"client not created: {exc}", StopReason.CONFIG_ERROR)
            return
        lane.state = LaneState.CONNECTING
        self._pending_connects += 1
        lane.connect_deadline = now + self.s.connect_timeout
        self._push_connect(index, lane.connect_deadline)

    def _connected(self, index: int) -> None:
        lane = self.lanes[index]
        if lane.state is LaneState.FAILED and lane.retrying:
            lane.retrying = False
            lane.summary.failure = None
            lane.state = LaneState.CONNECTING
            self._pending_connects += 1
            self.report.status_due = True
            emit(log, logging.WARNING, "station-recovered", "connected after CONNECT_TIMEOUT", thing=lane.name)
        if lane.state is not LaneState.CONNECTING:
            return
        self._pending_connects -= 1
        if lane.begin(self.s.new_pacer(self.clock()), loop=self.s.loop):
            self._push(index, lane.deadline)
        else:
            lane.state = LaneState.DRAINING

    def _connect_timed_out(self, lane: Lane) -> None:
        reason = getattr(lane.publisher, "last_error", None) or "no answer from the broker"
        fail(lane, f"could not connect to {self.s.mqtt_host}:{self.s.mqtt_port} as {lane.name} within "
             f"{self.s.connect_timeout:g} s (CONNECT_TIMEOUT): {reason}; still retrying with backoff",
             StopReason.CONNECT_FAILED)
        self._pending_connects -= 1
        # The client keeps retrying (backoff up to 30 s): a broker that was only slow or away lets the station
        # recover; a refused certificate stays failed. The failure is in the logs and the status at once.
        lane.retrying = True
        self.report.status_due = True

    # --- lane steps ------------------------------------------------------------------------------------------
    def _recount_inflight(self) -> int:
        """Collect every active lane's completions and count what is still in flight."""
        topic, total = self.s.topic, 0
        for lane in self.lanes:
            if lane.publisher is not None and lane.summary.inflight:
                lane.absorb(topic)
                total += lane.summary.inflight
        self._inflight = total
        return total

    def _held_back(self, index: int, now: float) -> bool:
        """Back-pressure: True (and the lane rescheduled, its deadline kept) when it must not publish now."""
        lane = self.lanes[index]
        if not lane.publisher.connected:  # no offline queue growing while the broker is away or slow
            self.held_back += 1
            self._push(index, now + DISCONNECTED_RETRY)
            return True
        if self._inflight >= self.inflight_cap:
            if now >= self._next_recount:
                self._next_recount = now + BACKPRESSURE_RETRY
                if self._recount_inflight() < self.inflight_cap:
                    return False
            # The whole group pauses, every lane keeping its place (its entry goes back with its deadline): a
            # lane pushed to "now + retry" would fall behind every overdue lane and starve.
            self.held_back += 1
            self._paused_until = now + BACKPRESSURE_RETRY
            self._push(index, lane.deadline)
            return True
        return False

    def _publish_due(self, index: int) -> None:
        lane = self.lanes[index]
        if lane.outage is not None:  # a disconnect fault: closed once idle, back after its time
            again = lane.outage_step(self.clock(), self.s.topic)
            if again is not None:
                self._push(index, again)
                return
        if self._held_back(index, self.clock()):
            return
        if lane.publisher.inflight >= self.s.max_inflight:
            lane.absorb(self.s.topic)
            if lane.publisher.inflight >= self.s.max_inflight:
                self._push(index, self.clock() + FULL_WINDOW_RETRY)
                return
        now = self.clock()
        late = now - lane.deadline
        self.report.lateness.add(late)
        shifted = None
        if self.s.time_mode is TimeMode.SHIFTED:
            shifted = datetime.fromtimestamp(round(lane.deadline + self._wall_offset, 3), timezone.utc)
        lane.publish(self.now_utc(), shifted, late)
        self._inflight += 1
        if lane.advance(loop=self.s.loop):
            # Behind schedule, a lane goes to the back of the overdue ones (round robin) instead of keeping a key
            # in the past that puts it before them all again (with INTERVAL=0 one station took every turn).
            # Its lateness is still measured from its own deadline.
            self._push(index, max(lane.deadline, now))
        else:
            lane.state = LaneState.DRAINING

    def _due(self, index: int, now: float) -> None:
        lane = self.lanes[index]
        state = lane.state
        if state is LaneState.PUBLISHING:
            self._publish_due(index)
        elif state is LaneState.WAITING:
            self._connect(index, now)
        elif state is LaneState.CONNECTING and now >= lane.connect_deadline:
            self._connect_timed_out(lane)

    def _handle_events(self) -> None:
        events = self._events
        while events:
            index, kind, _text = events.popleft()
            self.lanes[index].connection_event(kind)
            if kind is ConnectionEvent.CONNECTED:
                self._connected(index)

    # --- housekeeping ----------------------------------------------------------------------------------------
    def _finish_lane(self, index: int) -> None:
        """A lane at the end of its replay with every PUBACK in: its final checkpoint and summary. A damaged or
        empty file fails the station as it ends a single station (exit code 3)."""
        lane = self.lanes[index]
        lane.save_checkpoint(self._writer, final=True, loop=self.s.loop)
        if lane.summary.reason is StopReason.FINISHED:
            lane.state = LaneState.FINISHED
        else:
            fail(lane, f"data file {lane.data_file} is damaged: {lane.feed.file_error}", lane.summary.reason)
        self._summary(index)
        self._stop_client(index)

    def _sweep(self, seconds: float) -> None:
        """Collect PUBACKs of every active lane, recount the group's in-flight, finish drained lanes, and save
        changed checkpoints within the group's write budget for `seconds` (round robin over the lanes)."""
        topic, lanes, inflight = self.s.topic, self.lanes, 0
        for i, lane in enumerate(lanes):
            state = lane.state
            if state is not LaneState.PUBLISHING and state is not LaneState.DRAINING:
                continue
            lane.absorb(topic)
            if lane.injector is not None:
                lane.release()
            if state is LaneState.DRAINING and lane.summary.inflight == 0 and lane.publisher.inflight == 0:
                self._finish_lane(i)
            inflight += lane.summary.inflight
        self._inflight = inflight
        budget, n, start = max(1, int(CHECKPOINT_WRITES_PER_S * seconds)), len(lanes), self._checkpoint_cursor
        for k in range(n):
            i = (start + k) % n
            lane = lanes[i]
            if lane.state is LaneState.PUBLISHING or lane.state is LaneState.DRAINING:
                if lane.save_checkpoint(self._writer):
                    budget -= 1
                    if not budget:
                        self._checkpoint_cursor = i + 1
                        break

    # --- main ------------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Run every lane to its end (or until stopped); the exit code of `group_exit_code`."""
        try:
            return self._run()
        finally:
            self._files.close()
            if self._writer is not None:
                self._writer.close()
            self.report.close()

    def _run(self) -> int:
        self._wall_offset = time.time() - time.monotonic()
        self.report.start()
        now = self.clock()
        for i in prepare(self.lanes, self.s, self._files, self._identity_problems):
            self._push_connect(i, self.slots.take(now))
        # Thousands of long-lived objects (lanes, caches): keep the cyclic collector from rescanning them all
        # (a full collection of a big heap would show as a lateness spike on every station at once).
        gc.collect()
        gc.freeze()
        if self._factory is None:  # real clients: their CRT thread needs the GIL for every PUBACK
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._loop()
        self._shutdown()
        return int(group_exit_code(self.lanes))

    def _loop(self) -> None:
        s, clock, heap, lanes, report = self.s, self.clock, self._heap, self.lanes, self.report
        sweep_every = min(s.checkpoint_interval, 1.0)
        now = clock()
        report.begin(now)
        next_sweep = now + sweep_every
        busy_since = now
        while not self.stop.is_set():
            if self._events:
                self._handle_events()
            now = clock()
            if now - busy_since > MAX_HOLD_S:  # behind schedule: let the CRT thread take the GIL now and then
                self._yield(YIELD_S)
                busy_since = now = clock()
            if now >= next_sweep:
                self._sweep(sweep_every)
                next_sweep = now + sweep_every
                if all(lane.state.terminal for lane in lanes):
                    break
            report.tick(now)
            connects = self._connect_heap
            while connects and connects[0][0] <= now:
                _, token, index = heapq.heappop(connects)
                if lanes[index].token == token:
                    self._due(index, now)
            handled = 0
            while heap and heap[0][0] <= now and handled < BATCH and now >= self._paused_until:
                _, token, index = heapq.heappop(heap)
                if lanes[index].token == token:
                    self._due(index, now)
                    handled += 1
                    if not handled & 63:
                        now = clock()
            if handled:
                continue
            next_publish = max(heap[0][0], self._paused_until) if heap else math.inf
            wake = min(next_sweep, report.next_due, next_publish, connects[0][0] if connects else math.inf)
            self._sleep(max(COALESCE_S if wake == next_publish else 0.0, wake - clock()))
            busy_since = clock()

    def _shutdown(self) -> None:
        """Drain in-flight publishes (DRAIN_TIMEOUT when stopped), save checkpoints, summaries, stop clients."""
        s = self.s
        if self.stop.is_set():
            active = sum(1 for lane in self.lanes if lane.summary.inflight)
            emit(log, logging.INFO, "draining", f"waiting up to {s.drain_timeout:g} s for in-flight publishes",
                 stations_with_inflight=active)
            deadline = self.clock() + s.drain_timeout
            while True:
                for lane in self.lanes:
                    lane.absorb(s.topic)
                if not any(lane.summary.inflight for lane in self.lanes if lane.publisher is not None):
                    break
                if self.clock() >= deadline:
                    break
                self._sleep(min(0.1, max(0.0, deadline - self.clock())))
        for i, lane in enumerate(self.lanes):
            if lane.state.terminal:
                continue
            lane.absorb(s.topic)
            if lane.state is LaneState.DRAINING and lane.summary.inflight == 0:
                self._finish_lane(i)
                continue
            lane.state = LaneState.STOPPED
            lane.summary.reason = self.stop_reason
            lane.save_checkpoint(self._writer, final=True, loop=s.loop)
            self._summary(i)
        for i, lane in enumerate(self.lanes):
            if lane.state is LaneState.FAILED:
                self._summary(i)
        for i in range(len(self.lanes)):
            self._stop_client(i)
        deadline = self.clock() + 10.0
        for lane in self.lanes:
            pub = lane.publisher
            if pub is not None and hasattr(pub, "wait_stopped"):
                pub.wait_stopped(max(0.0, deadline - self.clock()))
        if self._writer is not None:
            self._writer.flush()
        self.report.finish(self.clock())

    def _summary(self, index: int) -> None:
        """The station's summary line, once."""
        if index not in self._summarised:
            self._summarised.add(index)
            self.lanes[index].flush_metrics()  # its last counts, whatever the periodic sync's time
            emit(log, logging.INFO, "summary", "", **self.report.summary_fields(self.lanes[index]))

    def _stop_client(self, index: int) -> None:
        if index in self._stopped:
            return
        pub = self.lanes[index].publisher
        if pub is None:
            return
        self._stopped.add(index)
        pub.request_stop()
