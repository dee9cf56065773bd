"""One station's host: the engine with one station in it, waiting on that station's deadlines in this thread.

`Replay.run()` sets the start point (`station.engine.resume`: checkpoint, START_OFFSET, START_AT, LOOP), connects,
then hands every record to the engine lane (`station.engine.lane`) at its deadline, advances the checkpoint over
the contiguous prefix of acknowledged messages, logs progress, and on stop (SIGTERM/SIGINT) drains in-flight
publishes for at most DRAIN_TIMEOUT seconds before the final summary. Every replay rule is the lane's; this
module holds only what a lone station adds: its records (streaming, the message cache or PRELOAD), its status
file, its progress lines and the exit code.

Damaged input never ends a run early with a traceback: skipped lines are logged as they are met (rate-limited,
`station.input_errors`); a damaged file (e.g. a truncated .gz) ends the replay after its last good record, every
record before it is published, and the run exits with `ExitCode.DATA_DAMAGED` after the summary, as does a
file without a single decodable record. A first connection that fails ends in one line and the summary.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

from station import checkpoint as ckpt
from station import status as status_file
from station.engine.connect import connection_config
from station.engine.cache import CacheError, MessageCache, open_cache
from station.engine.feed import CacheFeed, SourceFeed
from station.engine.instruments import Instruments
from station.engine.lane import Lane, LaneState
from station.engine.summary import Summary
from station.engine.writer import BackgroundWriter
from station.errors import ConnectError
from station.exit_codes import ExitCode, StopReason
from station.input_errors import InputErrorReporter
from station.logging_setup import emit
from station.publisher import Publisher
from station.scheduler import wait_until
from station.settings import StationSettings, TimeMode
from station.sources import IsdSource, PreparedSource, count_lines, peak_rss_mb
from station.status import State

log = logging.getLogger("station.replay")

LINE_ERRORS_SHOWN = 10  # skipped lines logged one by one before the rate limit...
LINE_ERROR_INTERVAL = 60.0  # ...then at most one every this many seconds (with the count of those not shown)
MAX_ERROR_LINES_PER_INTERVAL = 20  # failed publishes logged per progress interval (then counted)
STOP_AFTER_CONNECT_FAILURE = 0.25  # seconds granted to the client's stop when the first connection failed
READ_AHEAD = 256  # records decoded at a time when unthrottled
CACHE_FOLDER = ".cache"  # under STATE_DIR: the message cache of an unthrottled replay (DECODE_AHEAD)


class Replay:
    """One station's replay of one data file (see module docstring). `source`: the records (default: the ISD
    file in the mode the settings choose); `record_lateness`: keep every publish's lateness in `lateness`."""

    def __init__(self, settings: StationSettings, *, source: Any = None, stop: threading.Event | None = None,
                 record_lateness: bool = False, instruments: Instruments | None = None) -> None:
        s = self.s = settings
        self.input_errors = InputErrorReporter(log, s.data_file, first=LINE_ERRORS_SHOWN,
                                               interval=LINE_ERROR_INTERVAL)
        shifted = s.time_mode is TimeMode.SHIFTED
        unthrottled = s.new_pacer().unthrottled
        self._shifted = shifted
        self._cache: MessageCache | None = None
        if source is None:
            source = IsdSource(s.data_file, s.thing_name, self.input_errors.report)
            if s.preload:
                source = PreparedSource(source, shifted=shifted)
            elif s.decode_ahead and unthrottled:
                source = None  # the message cache (`_cache_feed`)
        self.source = source
        self.stop = stop or threading.Event()
        self.stop_reason = StopReason.FINISHED
        self.lateness: list[float] = []
        self.record_lateness = record_lateness
        self.lane = Lane(s.thing_name, s.data_file, s.state_dir, start_offset=s.start_offset,
                         max_failures_shown=MAX_ERROR_LINES_PER_INTERVAL)
        if instruments is not None:
            instruments.attach(self.lane)
        self._read_ahead = READ_AHEAD if unthrottled else 1
        self.feed: Any = self._source_feed(source) if source is not None else None
        self.status_file = status_file.status_path(s.state_dir, s.thing_name)
        self.publisher: Publisher | None = None
        self._writer = BackgroundWriter()
        self._state = State.STARTING
        self._total_lines = 0
        self._started = time.monotonic()
        self._last_progress = (self._started, 0)
        self._next_progress = self._next_checkpoint = self._next_status = 0.0

    @property
    def summary(self) -> Summary:
        return self.lane.summary

    def request_stop(self, reason: StopReason | str) -> None:
        """Stop the replay; `reason` is a StopReason or a signal's name (SIGTERM, SIGINT)."""
        self.stop_reason = StopReason(reason)
        self.stop.set()

    def _source_feed(self, source: Any) -> SourceFeed:
        return SourceFeed(source, shifted=self._shifted, file_error=self._file_error,
                          skipped=lambda: self.input_errors.skipped, pass_ended=self.input_errors.finish,
                          read_ahead=self._read_ahead)

    def _cache_feed(self) -> Any:
        """DECODE_AHEAD (unthrottled): the file decoded once into the message cache (STATE_DIR/.cache, as a
        group's), its problems reported as met (or again from the cache's record when it is reused); publishing
        then only splices seq and sent_at. A cache that cannot be made: decoding while publishing instead."""
        s, problems = self.s, self.input_errors
        started = time.perf_counter()
        try:
            cache, produced = open_cache(s.data_file, s.state_dir / CACHE_FOLDER, shifted=self._shifted,
                                         on_problem=problems.report)
        except CacheError as exc:
            emit(log, logging.WARNING, "cache-unavailable", f"{exc}; decoding while publishing instead")
            self.source = IsdSource(s.data_file, s.thing_name, problems.report)
            return self._source_feed(self.source)
        if not produced:
            problems.known(*cache.known_problems())
        problems.finish()
        self._cache = cache
        emit(log, logging.INFO, "cache", "made" if produced else "reused", records=len(cache),
             seconds=round(time.perf_counter() - started, 2))
        return CacheFeed(cache, release_behind=True)

    def _file_error(self) -> str | None:
        error = self.input_errors.file_error
        return error.message if error is not None else None

    # --- status, progress, housekeeping ----------------------------------------------------------------------
    def _write_status(self, state: State | None = None, **extra: Any) -> None:
        if state:
            self._state = state
        pub = self.publisher
        connected = bool(pub and pub.connected)
        shown = self._state
        if shown is State.PUBLISHING and not connected:
            shown = State.DISCONNECTED
        sm = self.lane.summary
        doc = {"thing_name": self.s.thing_name, "connected": connected, "published": sm.published,
               "acked": sm.acknowledged, "failed": sm.failed, "seq": sm.last_seq, "line": self.lane.last_line,
               "error": pub.last_error if pub else None, **extra}  # `extra` may replace error (a failed connect)
        self._writer.submit("status", lambda: status_file.write_status(self.status_file, shown, **doc))

    def _progress(self, now: float) -> None:
        lane, sm = self.lane, self.lane.summary
        then, acked_then = self._last_progress
        rate = (sm.acknowledged - acked_then) / (now - then) if now > then else 0.0
        self._last_progress = (now, sm.acknowledged)
        percent = 100.0 * lane.last_line / self._total_lines if self._total_lines else 0.0
        emit(log, logging.INFO, "progress", "", published=sm.published, acked=sm.acknowledged, failed=sm.failed,
             inflight=sm.inflight, rate=f"{rate:.1f}/s", percent=f"{percent:.1f}", line=lane.last_line,
             observation=lane.last_time.isoformat() if lane.last_time else None,
             connected=bool(self.publisher and self.publisher.connected), passes=sm.passes)
        if lane.failures_hidden:
            emit(log, logging.ERROR, "publish-failed", f"{lane.failures_hidden} more failed publishes not shown")
        lane.failures_shown = lane.failures_hidden = 0

    def _housekeeping(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.lane.absorb(self.s.topic)
        self.lane.release()
        if now >= self._next_checkpoint:
            self.lane.save_checkpoint(self._writer)
            self._next_checkpoint = now + self.s.checkpoint_interval
        if now >= self._next_status:
            self._write_status()
            self._next_status = now + 1.0
        if now >= self._next_progress:
            self._progress(now)
            self._next_progress = now + self.s.progress_interval

    # --- main ---------------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Replay; returns the exit code (`ExitCode`: OK finished or stopped by signal, CONNECT_FAILED when the
        first connection was never established, DATA_DAMAGED when the data file is damaged or has no record)."""
        try:
            return self._run()
        finally:
            self._writer.close()
            if self._cache is not None:
                self._cache.close()

    def _run(self) -> int:
        s, lane = self.s, self.lane
        self._write_status(State.STARTING)
        if self.feed is None:
            self.feed = self._cache_feed()
        if not lane.resume(self.feed, ckpt.fingerprint(s.data_file), start_at=s.start_at, loop=s.loop):
            emit(log, logging.INFO, "finished",
                 f"nothing to replay: the checkpoint says {s.data_file} was fully acknowledged "
                 f"(delete {lane.checkpoint_file} to replay it again, or set LOOP=true)")
            self._write_status(State.FINISHED)
            self._log_summary()
            return ExitCode.OK
        self._total_lines = count_lines(s.data_file)
        self.publisher = lane.publisher = Publisher(connection_config(s, s.thing_name, s.identity), s.topic,
                                                    max_inflight=s.max_inflight,
                                                    on_event=lambda kind, _text: lane.connection_event(kind))
        emit(log, logging.INFO, "start", "", thing=s.thing_name, endpoint=f"{s.mqtt_host}:{s.mqtt_port}",
             target=s.target, topic=s.topic, file=str(s.data_file), lines=self._total_lines,
             pacing=s.pacing_text(), loop=s.loop, time_mode=s.time_mode,
             start_at=s.start_at.isoformat() if s.start_at else None, resume_after_line=lane.skip_through,
             next_seq=lane.seq)
        if isinstance(self.source, PreparedSource):
            if not self.source.prepared:
                self.source.prepare()
            emit(log, logging.INFO, "preload", "messages prepared", seconds=round(self.source.prepare_s, 2))
        self.publisher.start()
        stop_timeout = 5.0
        try:
            try:
                if not self.publisher.wait_connected(s.connect_timeout, self.stop):
                    lane.summary.reason = self.stop_reason
                    self._write_status(State.STOPPED)
                    self._log_summary()
                    return ExitCode.OK
            except ConnectError as exc:
                # Nothing was published: a connection attempt still under way (e.g. a TLS handshake with a
                # listener that never answers) is not waited for.
                stop_timeout = STOP_AFTER_CONNECT_FAILURE
                emit(log, logging.ERROR, "connect-failed", str(exc))
                lane.summary.reason = StopReason.CONNECT_FAILED
                lane.state = LaneState.FAILED
                self._write_status(State.FAILED, error=str(exc))
                self._log_summary()
                return ExitCode.CONNECT_FAILED
            self._write_status(State.PUBLISHING)
            self._drain(self._publish_all())
            return lane.summary.reason.exit_code
        finally:
            self.publisher.stop(stop_timeout)

    def _publish_all(self) -> bool:
        """Publish until the end of the replay (True) or a stop request (False)."""
        s, lane, pub, stop = self.s, self.lane, self.publisher, self.stop
        assert pub is not None
        loop, shifted, utc = s.loop, s.time_mode is TimeMode.SHIFTED, timezone.utc
        wall_offset = time.time() - time.monotonic()
        lateness = self.lateness if self.record_lateness else None
        house, publish, advance, monotonic, now_utc = (self._housekeeping, lane.publish, lane.advance,
                                                       time.monotonic, datetime.now)
        next_house = 0.0
        self._started = monotonic()
        self._last_progress = (self._started, 0)
        self._next_progress = self._started + s.progress_interval
        pacer = s.new_pacer(self._started)
        unthrottled = pacer.unthrottled
        more = lane.begin(pacer, loop=loop)
        while more:
            deadline = lane.deadline
            now = monotonic()
            if now >= next_house:
                house(now)
                next_house = now + 0.05
            if not pub.acquire_slot(stop, house):
                return False
            if not unthrottled and deadline > monotonic():
                if not wait_until(deadline, stop, house):
                    return False
            elif stop.is_set():
                return False
            late = monotonic() - deadline
            if lateness is not None:
                lateness.append(late)
            publish(now_utc(utc), datetime.fromtimestamp(round(deadline + wall_offset, 3), utc) if shifted else None,
                    late)
            more = advance(loop=loop)
            if lane.outage is not None and not self._sit_out():
                return False
        return True

    def _sit_out(self) -> bool:
        """A disconnect fault: closed once idle, back after its time (`Lane.outage_step`); False when stopped."""
        lane, topic = self.lane, self.s.topic
        while (due := lane.outage_step(time.monotonic(), topic)) is not None:
            if not wait_until(due, self.stop, self._housekeeping):
                return False
        return True

    def _drain(self, finished: bool) -> None:
        s, pub, lane = self.s, self.publisher, self.lane
        sm = lane.summary
        assert pub is not None
        if not finished:
            sm.reason = self.stop_reason
        self._write_status(State.DRAINING)
        if finished:
            # At the end of the file, wait (while not stopped) for every PUBACK: that is what "finished" means.
            while not pub.wait_idle(0.25):
                self._housekeeping()
                if self.stop.is_set():
                    sm.reason = self.stop_reason
                    finished = False
                    break
        if not finished:
            emit(log, logging.INFO, "draining", f"waiting up to {s.drain_timeout:g} s for in-flight publishes",
                 inflight=sm.inflight)
            deadline = time.monotonic() + s.drain_timeout
            while not pub.wait_idle(min(0.25, max(0.0, deadline - time.monotonic()))):
                self._housekeeping()
                if time.monotonic() >= deadline:
                    break
        lane.absorb(s.topic)
        lane.save_checkpoint(self._writer, final=True, loop=s.loop)
        done = finished and sm.inflight == 0
        lane.state = LaneState.FINISHED if done else LaneState.STOPPED
        self._write_status(State.FINISHED if done else State.STOPPED)
        self._log_summary()

    def _log_summary(self) -> None:
        self._writer.flush()
        sm = self.lane.summary
        sm.duration_s = time.monotonic() - self._started
        problems = self.input_errors
        extra: dict[str, Any] = {"skipped_by_kind": problems.kinds_text()} if problems.kinds_text() else {}
        if problems.file_error:
            extra["file_error"] = problems.file_error.message
        emit(log, logging.INFO, "summary", "", **self.lane.summary_fields(), skipped_lines=problems.skipped,
             **extra, duration_s=round(sm.duration_s, 3), rate=f"{sm.rate:.1f}/s", peak_rss_mb=peak_rss_mb())

