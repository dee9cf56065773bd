"""The group runtime: one process, one scheduler, many stations (lanes), each with its own MQTT5 client.

- All clients share ONE awscrt EventLoopGroup + ClientBootstrap; each has client id = thing name and its own
  mutual-TLS identity, persistent session, offline queue and PUBACK checks (`station.publisher.Publisher`).
- One min-heap of (due time, token, lane) serves every lane's deadline: connect slots, connect timeouts and
  publish deadlines; no thread per station. A lane rescheduled gets a new token; older heap entries are skipped.
- Connects are staggered at CONNECT_RATE per second with uniform jitter within each slot.
- A lane that fails (refused certificate / no connection within CONNECT_TIMEOUT, missing identity, unreadable or
  damaged file) is logged and counted; the others go on. The exit code is non-zero only when every lane failed
  (`group_exit_code`: 2 or 3 when all failed alike on configuration or damaged data, else 1).
- Messages come from the shared message cache (`station.group.cache`): no decoding while publishing.
- Every PROGRESS_INTERVAL one aggregated progress line; at the end one summary per station and one for the group.
"""

from __future__ import annotations

import collections
import gc
import heapq
import logging
import math
import os
import random
import threading
import time
from array import array
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fleetcore.identity import CA_FILE, CERTIFICATE_FILE, PRIVATE_KEY_FILE, IdentityFiles
from fleetcore.shard import Shard
from station import checkpoint as ckpt
from station.group.cache import CacheError, MessageCache, open_cache, source_digest
from station.exit_codes import ExitCode
from station.group.lane import FailureKind, Lane, LaneConfig, LaneState, utc_now
from station.group.settings import GroupSettings
from station.group.status import GroupState, group_status_path
from station.logging_setup import emit
from station.publisher import ConnectionConfig, Publisher
from station.replay import BackgroundWriter
from station.sources import peak_rss_mb
from station.status import write_status

log = logging.getLogger("station.group")

BATCH = 512            # due entries handled before looking at connection events and housekeeping again
FULL_WINDOW_RETRY = 0.005  # seconds before a lane whose in-flight window is full tries again
LATENESS_BUCKETS = 10_001  # 1 ms buckets up to 10 s, the last one counts everything later
MAX_FAILURES_SHOWN = 20

PublisherFactory = Callable[[ConnectionConfig, str, int, Callable[[str, str], None]], Any]


def group_exit_code(lanes: list[Lane]) -> ExitCode:
    """OK unless every lane failed; then a single station's code for that failure when all failed alike
    (2: configuration, 3: damaged data), else 1."""
    if not lanes or any(lane.state is not LaneState.FAILED for lane in lanes):
        return ExitCode.OK
    kinds = {lane.failure_kind for lane in lanes}
    kind = kinds.pop() if len(kinds) == 1 else None
    return kind.exit_code if kind is not None else ExitCode.CONNECT_FAILED


def unreadable_data(path: Path, data_dir: Path) -> str:
    """The failure of a data file the container's user may not read (a bind mount keeps the host's modes)."""
    return (f"data file not readable: {path} (Permission denied for uid {os.getuid()}, gid {os.getgid()}): "
            f"the folder mounted at DATA_DIR={data_dir} must be searchable and its files readable by that user on "
            f"the host, e.g. `chmod o+rx <DATA_DIR>` and `chmod o+r <DATA_DIR>/*`")


class LatenessStats:
    """Schedule lateness of publishes: per progress interval (exact p99) and for the whole run (1 ms histogram)."""

    def __init__(self) -> None:
        self.interval: list[float] = []
        self.hist = array("L", bytes(LATENESS_BUCKETS * array("L").itemsize))
        self.count = 0
        self.max = 0.0

    def add(self, late: float) -> None:
        self.interval.append(late)
        self.count += 1
        if late > self.max:
            self.max = late
        b = int(late * 1000) if late > 0 else 0
        self.hist[b if b < LATENESS_BUCKETS else LATENESS_BUCKETS - 1] += 1

    def take_interval_p99(self) -> float | None:
        data, self.interval = self.interval, []
        if not data:
            return None
        data.sort()
        return data[min(len(data) - 1, math.ceil(0.99 * len(data)) - 1)]

    def run_percentile(self, q: float) -> float | None:
        """Upper bound (1 ms resolution) of the q-quantile over the run."""
        if not self.count:
            return None
        want, seen = math.ceil(q * self.count), 0
        for ms, n in enumerate(self.hist):
            seen += n
            if seen >= want:
                return (ms + 1) / 1000.0
        return self.max


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
                 write_state: bool = True) -> None:
        self.s = settings
        self.shard = shard
        self.clock = clock
        self.now_utc = now_utc
        self.stop = threading.Event()
        self.stop_reason = "finished"
        self._wake = threading.Event()
        self._sleep = sleep or self._wait
        self._rng = rng or random.Random()
        self._factory = publisher_factory
        self._bootstrap: Any = None
        self._write_state = write_state
        self._events: collections.deque[tuple[int, str, str]] = collections.deque()
        self._heap: list[tuple[float, int, int]] = []
        self._counter = 0
        self._writer = BackgroundWriter() if write_state else None
        # the status file has a writer of its own: it never waits behind a thousand checkpoint writes
        self._status_writer = BackgroundWriter() if write_state else None
        self._stopped: set[int] = set()
        self._status_due = False
        self._pending_connects = 0
        self.lateness = LatenessStats()
        self._start_index_memo: dict[tuple[int, int, datetime | None], int] = {}
        self._caches: dict[Path, MessageCache] = {}
        self._last_progress = (0.0, 0)
        self._started = clock()
        s = settings
        self.lanes = [Lane(LaneConfig(thing_name=t.thing_name, data_file=s.data_dir / t.data_file,
                                      identity_dir=s.identities_dir / t.thing_name,
                                      state_dir=s.state_dir / t.thing_name, start_offset=t.start_offset))
                      for t in shard.things]

    # --- control ---------------------------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.stop.set()
        self._wake.set()

    def _wait(self, timeout: float) -> None:
        if timeout > 0:
            self._wake.wait(timeout)
        self._wake.clear()

    def _on_event(self, index: int, kind: str, text: str) -> None:
        """Publisher lifecycle callback (CRT thread): queued for the scheduler thread."""
        self._events.append((index, kind, text))
        self._wake.set()

    def _push(self, index: int, at: float) -> None:
        self._counter += 1
        self.lanes[index].token = self._counter
        heapq.heappush(self._heap, (at, self._counter, index))

    # --- preparation -----------------------------------------------------------------------------------------
    def _prepare(self) -> list[int]:
        """Open the caches, check identities and checkpoints; the indexes of the lanes that need a connection."""
        s = self.s
        shifted = s.time_mode == "shifted"
        digests: dict[Path, tuple[int, str]] = {}
        unusable: dict[Path, tuple[str, FailureKind]] = {}  # a data file's failure: (reason, kind), as Lane.fail
        for lane in self.lanes:
            path = lane.cfg.data_file
            if path in digests or path in unusable:
                continue
            try:
                digest = source_digest(path)
                started = time.perf_counter()
                cache, produced = open_cache(path, s.effective_cache_dir, shifted=shifted, digest=digest)
            except FileNotFoundError:
                unusable[path] = (f"data file not found: {path} (DATA_DIR={s.data_dir}, data_file in the shard)",
                                  FailureKind.CONFIG)
                continue
            except PermissionError:
                unusable[path] = (unreadable_data(path, s.data_dir), FailureKind.CONFIG)
                continue
            except (OSError, CacheError) as exc:
                unusable[path] = (str(exc), FailureKind.CONFIG)
                continue
            if not len(cache):  # as a single station: a file with no record to replay is a data failure
                why = (f"is damaged: {cache.file_error}" if cache.file_error else
                       f"has no decodable record ({cache.skipped_count} lines skipped; `station inspect` shows why)")
                unusable[path] = (f"data file {path} {why}", FailureKind.DATA)
                cache.close()
                continue
            digests[path] = digest
            self._caches[path] = cache
            emit(log, logging.INFO, "cache", "made" if produced else "reused", file=path.name, records=len(cache),
                 skipped_lines=cache.skipped_count, seconds=round(time.perf_counter() - started, 2),
                 cache_dir=str(s.effective_cache_dir))
            if cache.skipped_count:
                emit(log, logging.WARNING, "skipped-lines", f"{cache.skipped_count} damaged lines skipped",
                     file=path.name, first=cache.skipped[0] if cache.skipped else None)
        to_connect: list[int] = []
        done_already = 0
        for i, lane in enumerate(self.lanes):
            failure = unusable.get(lane.cfg.data_file)
            if failure is not None:
                lane.fail(*failure)
                continue
            problems = IdentityFiles.in_folder(lane.cfg.identity_dir).problems("IDENTITIES_DIR")
            if s.target == "aws":
                problems = [p for p in problems if "CA certificate not found" not in p]
            if problems:
                lane.fail("; ".join(problems), FailureKind.CONFIG)
                continue
            try:
                lane.cfg.state_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                lane.fail(f"state folder cannot be created: {lane.cfg.state_dir} (STATE_DIR): {exc.strerror}",
                          FailureKind.CONFIG)
                continue
            if not lane.resume(self._caches[lane.cfg.data_file], "sha256:" + digests[lane.cfg.data_file][1],
                               s.start_at):
                lane.state = LaneState.FINISHED
                lane.counters.reason = "finished"
                done_already += 1
                continue
            to_connect.append(i)
        if done_already:
            emit(log, logging.INFO, "finished", f"{done_already} stations have nothing to replay: their checkpoints "
                 "say the file was fully acknowledged (delete the checkpoints to replay again, or set LOOP=true)")
        return to_connect

    @property
    def _max_pending_connects(self) -> int:
        """Connections under way at most: a slow broker (TLS handshakes queue up) gets fewer new ones, instead of
        every station running into CONNECT_TIMEOUT."""
        return max(20, int(2 * self.s.effective_connect_rate))

    def _schedule_connects(self, indexes: list[int]) -> None:
        rate = self.s.effective_connect_rate
        t0 = self.clock()
        for slot, i in enumerate(indexes):
            self._push(i, t0 + (slot + self._rng.random()) / rate)

    def _connection_config(self, lane: Lane) -> ConnectionConfig:
        s = self.s
        folder = lane.cfg.identity_dir
        ca: Path | None = folder / CA_FILE
        if s.target == "aws" and not ca.is_file():  # type: ignore[union-attr]
            import certifi

            ca = Path(certifi.where())
        return ConnectionConfig(
            host=s.mqtt_host, port=s.mqtt_port, client_id=lane.name, certificate=folder / CERTIFICATE_FILE,
            private_key=folder / PRIVATE_KEY_FILE, ca=ca, metrics=s.metrics_enabled, aws_limits=s.target == "aws",
            keep_alive=s.keep_alive, session_expiry=s.session_expiry, bootstrap=self._bootstrap)

    def _new_publisher(self, index: int) -> Any:
        lane = self.lanes[index]
        config = self._connection_config(lane)
        on_event = lambda kind, text, i=index: self._on_event(i, kind, text)  # noqa: E731
        if self._factory is not None:
            return self._factory(config, self.s.topic, self.s.max_inflight, on_event)
        if self._bootstrap is None:
            self._bootstrap = shared_bootstrap()
            config = self._connection_config(lane)
        return Publisher(config, self.s.topic, max_inflight=self.s.max_inflight, on_event=on_event)

    # --- lane steps ------------------------------------------------------------------------------------------
    def _connect(self, index: int, now: float) -> None:
        lane = self.lanes[index]
        if self._pending_connects >= self._max_pending_connects:
            self._push(index, now + 1.0 / self.s.effective_connect_rate)  # keeps its place in the queue
            return
        try:
            lane.publisher = self._new_publisher(index)
            lane.publisher.start()
        except Exception as exc:  # noqa: BLE001 - awscrt raises plain exceptions for unreadable PEM files
            lane.fail(f"client not created: {exc}", FailureKind.CONFIG)
            return
        lane.state = LaneState.CONNECTING
        self._pending_connects += 1
        lane.connect_deadline = now + self.s.connect_timeout
        self._push(index, lane.connect_deadline)

    def _start_index(self, lane: Lane) -> int:
        cache = lane.cache
        assert cache is not None
        key = (id(cache), lane.skip_through, lane.start_at)
        found = self._start_index_memo.get(key)
        if found is None:
            found = cache.first_index_after_line(lane.skip_through)
            if lane.start_at is not None:
                while found < len(cache) and cache.record(found).time < lane.start_at:
                    found += 1
                if found >= len(cache):
                    emit(log, logging.WARNING, "start-at", f"no record at or after START_AT="
                         f"{lane.start_at.isoformat()} in {lane.cfg.data_file.name}")
            self._start_index_memo[key] = found
        return found

    def _connected(self, index: int) -> None:
        lane = self.lanes[index]
        if lane.state is LaneState.FAILED and lane.retrying:
            lane.retrying = False
            lane.counters.failure = None
            lane.counters.reason = ""
            lane.state = LaneState.CONNECTING
            self._pending_connects += 1
            self._status_due = True
            emit(log, logging.WARNING, "station-recovered", "connected after CONNECT_TIMEOUT", thing=lane.name)
        if lane.state is not LaneState.CONNECTING:
            return
        self._pending_connects -= 1
        s = self.s
        now = self.clock()
        if lane.resumed:
            emit(log, logging.DEBUG, "resume", "", thing=lane.name, line=lane.skip_through, next_seq=lane.seq)
        if lane.begin(now, speedup=s.effective_speedup, interval=s.interval, max_rate=s.effective_max_rate,
                      start_index=self._start_index(lane)):
            self._push(index, lane.deadline)
        else:
            self._end_of_pass(index)

    def _end_of_pass(self, index: int) -> None:
        lane = self.lanes[index]
        if self.s.loop and lane.new_pass():
            self._push(index, lane.deadline)
            return
        lane.state = LaneState.DRAINING
        lane.counters.reason = "finished"

    def _publish_due(self, index: int) -> None:
        lane = self.lanes[index]
        pub = lane.publisher
        if pub.inflight >= self.s.max_inflight:
            lane.absorb(self.s.topic)
            if pub.inflight >= self.s.max_inflight:
                self._push(index, self.clock() + FULL_WINDOW_RETRY)
                return
        late = self.clock() - lane.deadline
        self.lateness.add(late)
        if late > lane.counters.lateness_max:
            lane.counters.lateness_max = late
        shifted = None
        if self.s.time_mode == "shifted":
            shifted = datetime.fromtimestamp(round(lane.deadline + self._wall_offset, 3), timezone.utc)
        lane.publish(self.now_utc(), shifted)
        if lane.load_next():
            self._push(index, lane.deadline)
        else:
            self._end_of_pass(index)

    def _due(self, index: int, now: float) -> None:
        lane = self.lanes[index]
        state = lane.state
        if state is LaneState.PUBLISHING:
            self._publish_due(index)
        elif state is LaneState.WAITING:
            self._connect(index, now)
        elif state is LaneState.CONNECTING and now >= lane.connect_deadline:
            pub = lane.publisher
            reason = getattr(pub, "last_error", None) or "no answer from the broker"
            lane.fail(f"could not connect to {self.s.mqtt_host}:{self.s.mqtt_port} as {lane.name} within "
                      f"{self.s.connect_timeout:g} s (CONNECT_TIMEOUT): {reason}; still retrying with backoff",
                      FailureKind.CONNECT)
            self._pending_connects -= 1
            # The client keeps retrying (backoff up to 30 s): a broker that was only slow or away lets the station
            # recover; a refused certificate stays failed. The failure is in the logs and the status at once.
            lane.retrying = True
            self._status_due = True

    def _handle_events(self) -> None:
        events = self._events
        while events:
            index, kind, _text = events.popleft()
            if kind == "connected":
                self._connected(index)

    # --- housekeeping ----------------------------------------------------------------------------------------
    def _save(self, lane: Lane, model: ckpt.Checkpoint | None) -> None:
        if model is None or self._writer is None:
            return
        path = lane.checkpoint_file
        self._writer.submit(lane.name, lambda: ckpt.save(path, model))

    def _finish_lane(self, index: int) -> None:
        lane = self.lanes[index]
        self._save(lane, lane.checkpoint(finished=not self.s.loop))
        lane.state = LaneState.FINISHED
        emit(log, logging.INFO, "summary", "", **lane.summary_fields())
        self._stop_client(index)

    def _sweep(self) -> None:
        """Collect PUBACKs of every active lane, save changed checkpoints, finish drained lanes."""
        topic = self.s.topic
        for i, lane in enumerate(self.lanes):
            state = lane.state
            if state is not LaneState.PUBLISHING and state is not LaneState.DRAINING:
                continue
            lane.absorb(topic)
            if state is LaneState.DRAINING and lane.inflight == 0 and lane.publisher.inflight == 0:
                self._finish_lane(i)
            else:
                self._save(lane, lane.checkpoint())

    def _state_counts(self) -> dict[str, int]:
        counts = collections.Counter(lane.state.value for lane in self.lanes)
        return {state.value: counts.get(state.value, 0) for state in LaneState}

    def _totals(self) -> dict[str, int]:
        pub = ack = failed = connected = 0
        for lane in self.lanes:
            c = lane.counters
            pub += c.published
            ack += c.acknowledged
            failed += c.failed
            if lane.publisher is not None and lane.publisher.connected:
                connected += 1
        return dict(published=pub, acked=ack, failed=failed, connected=connected)

    def _progress(self, now: float) -> None:
        totals = self._totals()
        then, acked_then = self._last_progress
        rate = (totals["acked"] - acked_then) / (now - then) if now > then else 0.0
        self._last_progress = (now, totals["acked"])
        counts = self._state_counts()
        p99 = self.lateness.take_interval_p99()
        emit(log, logging.INFO, "group-progress", "", shard=self.shard.shard, stations=len(self.lanes),
             connected=totals["connected"], publishing=counts["publishing"], connecting=counts["connecting"],
             waiting=counts["waiting"], finished=counts["finished"], failed_stations=counts["failed"],
             published=totals["published"], acked=totals["acked"], failed=totals["failed"],
             inflight=totals["published"] - totals["acked"] - totals["failed"], rate=f"{rate:.1f}/s",
             lateness_p99_s=None if p99 is None else round(p99, 3))

    def _write_group_status(self, state: GroupState | None = None) -> None:
        if not self._write_state:
            return
        counts = self._state_counts()
        totals = self._totals()
        failures = [f"{lane.name}: {lane.counters.failure}" for lane in self.lanes
                    if lane.state is LaneState.FAILED][:MAX_FAILURES_SHOWN]
        if state is None:
            state = GroupState.FAILED if counts["failed"] == len(self.lanes) else GroupState.RUNNING
        doc = dict(shard=self.shard.shard, stations=len(self.lanes), states=counts, failures=failures, **totals)
        path = group_status_path(self.s.state_dir)
        assert self._status_writer is not None
        self._status_writer.submit("group-status", lambda: write_status(path, state, **doc))

    # --- main ------------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Run every lane to its end (or until stopped); the exit code of `group_exit_code`."""
        try:
            return self._run()
        finally:
            for cache in self._caches.values():
                cache.close()
            for writer in (self._writer, self._status_writer):
                if writer is not None:
                    writer.close()

    def _run(self) -> int:
        s = self.s
        self._wall_offset = time.time() - time.monotonic()
        emit(log, logging.INFO, "group-start", "", shard=self.shard.shard, stations=len(self.lanes),
             endpoint=f"{s.mqtt_host}:{s.mqtt_port}", target=s.target, topic=s.topic, pacing=s.pacing_text(),
             loop=s.loop, time_mode=s.time_mode, connect_rate=f"{s.effective_connect_rate:g}/s")
        self._write_group_status(GroupState.STARTING)
        self._schedule_connects(self._prepare())
        # Thousands of long-lived objects (lanes, caches): keep the cyclic collector from rescanning them all
        # (a full collection of a big heap would show as a lateness spike on every station at once).
        gc.collect()
        gc.freeze()
        self._loop()
        self._shutdown()
        return int(group_exit_code(self.lanes))

    def _loop(self) -> None:
        s, clock, heap, lanes = self.s, self.clock, self._heap, self.lanes
        sweep_every = min(s.checkpoint_interval, 1.0)
        now = clock()
        self._started = now
        self._last_progress = (now, 0)
        next_sweep, next_status, next_progress = now + sweep_every, now, now + s.progress_interval
        while not self.stop.is_set():
            if self._events:
                self._handle_events()
            now = clock()
            if now >= next_sweep:
                self._sweep()
                next_sweep = now + sweep_every
                if all(lane.state.terminal for lane in lanes):
                    break
            if now >= next_status or self._status_due:
                self._status_due = False
                self._write_group_status()
                next_status = now + 1.0
            if now >= next_progress:
                self._progress(now)
                next_progress = now + s.progress_interval
            handled = 0
            while heap and heap[0][0] <= now and handled < BATCH:
                _, token, index = heapq.heappop(heap)
                if lanes[index].token == token:
                    self._due(index, now)
                    handled += 1
                    if not handled & 63:
                        now = clock()
            if handled:
                continue
            wake = min(next_sweep, next_status, next_progress, heap[0][0] if heap else math.inf)
            self._sleep(max(0.0, wake - clock()))

    def _shutdown(self) -> None:
        """Drain in-flight publishes (DRAIN_TIMEOUT when stopped), save checkpoints, summaries, stop clients."""
        s = self.s
        stopped = self.stop.is_set()
        if stopped:
            active = sum(1 for lane in self.lanes if lane.inflight)
            emit(log, logging.INFO, "draining", f"waiting up to {s.drain_timeout:g} s for in-flight publishes",
                 stations_with_inflight=active)
            deadline = self.clock() + s.drain_timeout
            while True:
                for lane in self.lanes:
                    lane.absorb(s.topic)
                if not any(lane.inflight for lane in self.lanes if lane.publisher is not None):
                    break
                if self.clock() >= deadline:
                    break
                self._sleep(min(0.1, max(0.0, deadline - self.clock())))
        for i, lane in enumerate(self.lanes):
            if lane.state.terminal:
                continue
            lane.absorb(s.topic)
            if lane.state is LaneState.DRAINING and lane.inflight == 0:
                self._finish_lane(i)
                continue
            lane.state = LaneState.STOPPED
            lane.counters.reason = self.stop_reason
            self._save(lane, lane.checkpoint())
            emit(log, logging.INFO, "summary", "", **lane.summary_fields())
        for lane in self.lanes:
            if lane.state is LaneState.FAILED:
                emit(log, logging.INFO, "summary", "", **lane.summary_fields())
        for i in range(len(self.lanes)):
            self._stop_client(i)
        deadline = self.clock() + 10.0
        for lane in self.lanes:
            pub = lane.publisher
            if pub is not None and hasattr(pub, "wait_stopped"):
                pub.wait_stopped(max(0.0, deadline - self.clock()))
        self._progress(self.clock())  # the last interval's line, however short the run
        counts = self._state_counts()
        totals = self._totals()
        final = GroupState.FAILED if counts["failed"] == len(self.lanes) else (
            GroupState.FINISHED if counts["finished"] + counts["failed"] == len(self.lanes) else GroupState.STOPPED)
        self._write_group_status(final)
        for writer in (self._writer, self._status_writer):
            if writer is not None:
                writer.flush()
        p99 = self.lateness.run_percentile(0.99)
        emit(log, logging.INFO, "group-summary", "", shard=self.shard.shard, reason=self.stop_reason if stopped
             else final.value, stations=len(self.lanes), finished=counts["finished"], stopped=counts["stopped"],
             failed_stations=counts["failed"], published=totals["published"], acknowledged=totals["acked"],
             failed=totals["failed"], unacknowledged=totals["published"] - totals["acked"] - totals["failed"],
             lateness_p99_s=p99, lateness_max_s=round(self.lateness.max, 3),
             duration_s=round(self.clock() - self._started, 3), peak_rss_mb=peak_rss_mb())

    def _stop_client(self, index: int) -> None:
        if index in self._stopped:
            return
        pub = self.lanes[index].publisher
        if pub is None:
            return
        self._stopped.add(index)
        if hasattr(pub, "request_stop"):
            pub.request_stop()
        else:
            pub.stop()
