"""The replay loop: ISD records -> paced, numbered QoS1 messages, with checkpoints, progress and a summary.

`Replay.run()` decides where to start (checkpoint or START_AT), connects, publishes every record in file order on
absolute deadlines, advances the checkpoint over the contiguous prefix of acknowledged messages, logs progress, and
on stop (SIGTERM/SIGINT) drains in-flight publishes for at most DRAIN_TIMEOUT seconds before the final summary.

Damaged input never ends a run early with a traceback: skipped lines are logged as they are met (rate-limited,
`station.input_errors`); a damaged file (e.g. a truncated .gz) ends the pass after its last good record, every
record before it is published, and the run exits with `ExitCode.DATA_DAMAGED` after the summary, as does a
file without a single decodable record. A first connection that fails ends in one line and the summary.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from fleetcore.target import Target
from station import checkpoint as ckpt
from station import status as status_file
from station.status import State
from station.logging_setup import emit
from station.decode_ahead import DecodeAheadSource
from station.errors import ConnectError
from station.exit_codes import ExitCode, StopReason
from station.input_errors import InputErrorReporter
from station.publisher import Completion, ConnectionConfig, Publisher
from station.scheduler import Pacer, wait_until
from station.settings import StationSettings, TimeMode
from station.sources import (  # noqa: F401 - re-exported
    IsdSource, PreparedRecord, PreparedSource, count_lines, fill_template, make_template, peak_rss_mb)

log = logging.getLogger("station.replay")

MAX_ERROR_LINES_PER_INTERVAL = 20
LINE_ERRORS_SHOWN = 10  # skipped lines logged one by one before the rate limit...
LINE_ERROR_INTERVAL = 60.0  # ...then at most one every this many seconds (with the count of those not shown)
STOP_AFTER_CONNECT_FAILURE = 0.25  # seconds granted to the client's stop when the first connection failed
READ_AHEAD = 256  # templates made at a time when unthrottled


class Source(Protocol):
    """Where records come from and how one becomes a payload (the ISD file in production). Problems with the
    input (skipped lines, a damaged file) go to the sink the source was made with, as they are met."""

    path: Path

    def records(self) -> Iterator[Any]: ...

    def encode(self, record: Any, *, seq: int, sent_at: datetime, time: datetime | None) -> bytes: ...


@dataclass
class Summary:
    """What a run did; logged at the end and returned to the command."""

    reason: StopReason = StopReason.FINISHED
    published: int = 0
    acknowledged: int = 0
    failed: int = 0
    unacknowledged: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_acked_line: int = 0
    last_acked_seq: int | None = None
    passes: int = 0
    reconnects: int = 0
    skipped_lines: int = 0
    skipped_by_kind: str = ""  # 'digits:3,length:1'
    file_error: str | None = None  # the damaged file's error, when reading stopped early
    duration_s: float = 0.0
    lateness: list[float] = field(default_factory=list, repr=False)

    @property
    def rate(self) -> float:
        return self.acknowledged / self.duration_s if self.duration_s > 0 else 0.0


class BackgroundWriter:
    """Runs the latest pending write per key on a thread of its own, so an fsync never delays a deadline."""

    def __init__(self) -> None:
        self._pending: dict[str, Callable[[], None]] = {}
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="state-writer", daemon=True)
        self._thread.start()

    def submit(self, key: str, write: Callable[[], None]) -> None:
        with self._cond:
            self._pending[key] = write
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                key, write = next(iter(self._pending.items()))
                del self._pending[key]
                self._busy = True
            try:
                write()
            except OSError as exc:
                emit(log, logging.ERROR, "state-write-failed", f"{key}: {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every submitted write is done."""
        with self._cond:
            self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(10)


class Replay:
    """One station's replay of one data file (see module docstring)."""

    def __init__(self, settings: StationSettings, *, source: Source | None = None,
                 stop: threading.Event | None = None, record_lateness: bool = False) -> None:
        self.s = settings
        self.input_errors = InputErrorReporter(log, settings.data_file, first=LINE_ERRORS_SHOWN,
                                               interval=LINE_ERROR_INTERVAL)
        if source is None:
            source = IsdSource(settings.data_file, settings.thing_name, self.input_errors.report)
            shifted = settings.time_mode == TimeMode.SHIFTED
            if settings.preload:
                source = PreparedSource(source, shifted=shifted)
            elif settings.decode_ahead and settings.interval == 0 and not settings.effective_max_rate:
                source = DecodeAheadSource(source, shifted=shifted)
        self.source = source
        self.stop = stop or threading.Event()
        self.stop_reason = StopReason.FINISHED
        self.end_reason = StopReason.FINISHED  # why the last pass ended: FINISHED, FILE_DAMAGED or NO_RECORDS
        self._records_in_pass = 0
        self.record_lateness = record_lateness
        self.summary = Summary()
        self.checkpoint_file = ckpt.checkpoint_path(settings.state_dir, settings.thing_name)
        self.status_file = status_file.status_path(settings.state_dir, settings.thing_name)
        self.publisher: Publisher | None = None
        self._writer = BackgroundWriter()
        self._order: collections.deque[tuple[int, int, int]] = collections.deque()  # (seq, line, pass) in flight
        self._resolved: set[int] = set()
        self._fingerprint = ""
        self._passes = 0
        self._last_ack: tuple[int, int, int] | None = None  # (seq, line, pass) of the contiguous acked prefix
        self._saved_ack: tuple[int, int, int] | None = None
        self._errors_this_interval = 0
        self._suppressed = 0
        self._state = State.STARTING
        self._current_line = 0
        self._current_time: datetime | None = None
        self._total_lines = 0
        self._started = time.monotonic()
        self._last_progress = (self._started, 0)
        self._next_progress = 0.0
        self._next_checkpoint = 0.0
        self._next_status = 0.0

    def request_stop(self, reason: StopReason | str) -> None:
        """Stop the replay; `reason` is a StopReason or a signal's name (SIGTERM, SIGINT)."""
        self.stop_reason = StopReason(reason)
        self.stop.set()

    # --- start position -----------------------------------------------------------------------------------------
    def _resume_point(self) -> tuple[int, int] | None:
        """(skip_through_line, next_seq) from the checkpoint; None when the file was already fully replayed."""
        s = self.s
        self._fingerprint = ckpt.fingerprint(s.data_file)
        try:
            saved = ckpt.load(self.checkpoint_file)
        except ckpt.CheckpointError as exc:
            emit(log, logging.WARNING, "checkpoint-reset", f"{exc}; starting over at line 1")
            saved = None
        if saved is None:
            return s.start_offset, 1
        if saved.thing_name != s.thing_name or saved.fingerprint != self._fingerprint:
            why = ("data file changed since the checkpoint" if saved.thing_name == s.thing_name
                   else f"the checkpoint belongs to thing {saved.thing_name}")
            emit(log, logging.WARNING, "checkpoint-reset", f"{why}: starting over at line 1, seq continues",
                 checkpoint_file=saved.data_file, checkpoint_fingerprint=saved.fingerprint,
                 data_file=str(s.data_file), fingerprint=self._fingerprint, next_seq=saved.seq + 1)
            return 0, saved.seq + 1
        self._passes = saved.passes
        self._last_ack = self._saved_ack = (saved.seq, saved.line, saved.passes)
        if saved.finished and not s.loop:
            return None
        if saved.finished:  # LOOP enabled after a finished run: next pass
            self._passes += 1
            return 0, saved.seq + 1
        emit(log, logging.INFO, "resume", f"resuming after line {saved.line}", line=saved.line,
             next_seq=saved.seq + 1, passes=saved.passes)
        return saved.line, saved.seq + 1

    # --- acknowledgements and checkpoints ----------------------------------------------------------------------------
    def _absorb(self, completions: list[Completion]) -> None:
        sm = self.summary
        order, resolved = self._order, self._resolved
        for c in completions:
            if c.ok:
                sm.acknowledged += 1
                if not resolved and order and order[0][0] == c.token:  # the usual case: the oldest one
                    self._last_ack = order.popleft()
                    continue
            else:
                sm.failed += 1
                if self._errors_this_interval < MAX_ERROR_LINES_PER_INTERVAL:
                    self._errors_this_interval += 1
                    emit(log, logging.ERROR, "publish-failed", c.reason or "failed", seq=c.token,
                         topic=self.s.topic)
                else:
                    self._suppressed += 1
            resolved.add(c.token)
        while order and order[0][0] in resolved:
            self._last_ack = order.popleft()
            resolved.discard(self._last_ack[0])

    def _save_checkpoint(self, finished: bool = False) -> None:
        if self._last_ack is None or (self._last_ack == self._saved_ack and not finished):
            return
        seq, line, passes = self._last_ack
        model = ckpt.Checkpoint(
            thing_name=self.s.thing_name, data_file=str(self.s.data_file), fingerprint=self._fingerprint,
            line=line, seq=seq, passes=passes, finished=finished)
        self._writer.submit("checkpoint", lambda: ckpt.save(self.checkpoint_file, model))
        self._saved_ack = self._last_ack

    def _write_status(self, state: State | None = None, **extra: Any) -> None:
        if state:
            self._state = state
        pub = self.publisher
        connected = bool(pub and pub.connected)
        shown = self._state
        if shown is State.PUBLISHING and not connected:
            shown = State.DISCONNECTED
        sm = self.summary
        doc = {"thing_name": self.s.thing_name, "connected": connected, "published": sm.published,
               "acked": sm.acknowledged, "failed": sm.failed, "seq": sm.last_seq, "line": self._current_line,
               "error": pub.last_error if pub else None, **extra}  # `extra` may replace error (a failed connect)
        self._writer.submit("status", lambda: status_file.write_status(self.status_file, shown, **doc))

    def _progress(self, now: float) -> None:
        sm = self.summary
        then, acked_then = self._last_progress
        rate = (sm.acknowledged - acked_then) / (now - then) if now > then else 0.0
        self._last_progress = (now, sm.acknowledged)
        percent = 100.0 * self._current_line / self._total_lines if self._total_lines else 0.0
        emit(log, logging.INFO, "progress", "", published=sm.published, acked=sm.acknowledged, failed=sm.failed,
             inflight=sm.published - sm.acknowledged - sm.failed, rate=f"{rate:.1f}/s",
             percent=f"{percent:.1f}", line=self._current_line,
             observation=self._current_time.isoformat() if self._current_time else None,
             connected=bool(self.publisher and self.publisher.connected), passes=self._passes)
        if self._suppressed:
            emit(log, logging.ERROR, "publish-failed", f"{self._suppressed} more failed publishes not shown")
        self._suppressed = 0
        self._errors_this_interval = 0

    def _housekeeping(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        assert self.publisher is not None
        self._absorb(self.publisher.drain_completions())
        if now >= self._next_checkpoint:
            self._save_checkpoint()
            self._next_checkpoint = now + self.s.checkpoint_interval
        if now >= self._next_status:
            self._write_status()
            self._next_status = now + 1.0
        if now >= self._next_progress:
            self._progress(now)
            self._next_progress = now + self.s.progress_interval

    # --- main ---------------------------------------------------------------------------------------------------
    def connection_config(self) -> ConnectionConfig:
        s = self.s
        return ConnectionConfig(
            host=s.mqtt_host, port=s.mqtt_port, client_id=s.thing_name, certificate=s.certificate_path,
            private_key=s.private_key_path, ca=s.ca_path, metrics=s.metrics_enabled, aws_limits=s.target == Target.AWS,
            keep_alive=s.keep_alive, session_expiry=s.session_expiry)

    def run(self) -> int:
        """Replay; returns the exit code (`ExitCode`: OK finished or stopped by signal, CONNECT_FAILED when the
        first connection was never established, DATA_DAMAGED when the data file is damaged or has no record)."""
        try:
            return self._run()
        finally:
            self._writer.close()

    def _run(self) -> int:
        s = self.s
        self._write_status(State.STARTING)
        start = self._resume_point()
        if start is None:
            emit(log, logging.INFO, "finished",
                 f"nothing to replay: the checkpoint says {s.data_file} was fully acknowledged "
                 f"(delete {self.checkpoint_file} to replay it again, or set LOOP=true)")
            self._write_status(State.FINISHED)
            self._log_summary()
            return ExitCode.OK
        skip_through, next_seq = start
        self._total_lines = count_lines(s.data_file)
        self.publisher = Publisher(self.connection_config(), s.topic, max_inflight=s.max_inflight)
        speed = s.pacing_text()
        emit(log, logging.INFO, "start", "", thing=s.thing_name, endpoint=f"{s.mqtt_host}:{s.mqtt_port}",
             target=s.target, topic=s.topic, file=str(s.data_file), lines=self._total_lines, pacing=speed,
             loop=s.loop, time_mode=s.time_mode, start_at=s.start_at.isoformat() if s.start_at else None,
             resume_after_line=skip_through, next_seq=next_seq)
        if isinstance(self.source, PreparedSource):
            if not self.source.prepared:
                self.source.prepare()
            emit(log, logging.INFO, "preload", "messages prepared", seconds=round(self.source.prepare_s, 2))
        if isinstance(self.source, DecodeAheadSource):
            self.source.start()  # its start-up overlaps the connection
        self.publisher.start()
        stop_timeout = 5.0
        try:
            try:
                if not self.publisher.wait_connected(s.connect_timeout, self.stop):
                    self.summary.reason = self.stop_reason
                    self._write_status(State.STOPPED)
                    self._log_summary()
                    return ExitCode.OK
            except ConnectError as exc:
                # Nothing was published: a connection attempt still under way (e.g. a TLS handshake with a
                # listener that never answers) is not waited for.
                stop_timeout = STOP_AFTER_CONNECT_FAILURE
                emit(log, logging.ERROR, "connect-failed", str(exc))
                self.summary.reason = StopReason.CONNECT_FAILED
                self._write_status(State.FAILED, error=str(exc))
                self._log_summary()
                return ExitCode.CONNECT_FAILED
            self._write_status(State.PUBLISHING)
            finished = self._publish_all(skip_through, next_seq)
            self._drain(finished)
            return self._data_exit_code(finished)
        finally:
            if isinstance(self.source, DecodeAheadSource):
                self.source.close()
            self.publisher.stop(stop_timeout)

    def _data_exit_code(self, finished: bool) -> ExitCode:
        """DATA_DAMAGED when the pass that ended the run met a damaged file or no record at all, else OK."""
        return self.end_reason.exit_code if finished else ExitCode.OK

    def _due_records(self, skip_through: int, start_at: datetime | None, shifted: bool, read_ahead: int,
                     templates: bool) -> Iterator[tuple[Any, tuple[bytes, ...] | None]]:
        """(record, message template) for every record to publish in this pass, in file order: lines up to
        `skip_through` (resume) and records before `start_at` are left out; `read_ahead` records at a time.

        With `templates` false (unthrottled: no deadline to prepare for) a record decoded here gets no template
        (None): its message is encoded directly when it is sent, which is cheaper than making and filling one.
        """
        source = self.source
        prepared = isinstance(source, (PreparedSource, DecodeAheadSource))
        batch: list[tuple[Any, tuple[bytes, ...] | None]] = []
        started = start_at is None
        self._records_in_pass = 0
        for record in source.records():
            self._records_in_pass += 1
            if record.line_number <= skip_through:
                continue
            if not started:
                if record.time < start_at:  # type: ignore[operator]
                    continue
                started = True
            batch.append((record, record.parts if prepared else
                          make_template(source, record, shifted=shifted) if templates else None))
            if len(batch) >= read_ahead:
                yield from batch
                batch.clear()
        yield from batch

    def _publish_all(self, skip_through: int, seq: int) -> bool:
        """Publish until the end (True) or a stop request (False)."""
        s, pub, sm, stop = self.s, self.publisher, self.summary, self.stop
        assert pub is not None
        speedup = s.effective_speedup
        pacer = Pacer(speedup=speedup, interval=None if speedup else s.interval, max_rate=s.effective_max_rate)
        shifted = s.time_mode == TimeMode.SHIFTED
        wall_offset = time.time() - time.monotonic()
        start_at = s.start_at if skip_through == 0 else None
        unthrottled = pacer.unthrottled
        # Unthrottled, records are decoded in batches: decoding in bursts, then publishing in bursts, hands the GIL
        # to the CRT thread far less often than alternating record by record.
        read_ahead = READ_AHEAD if unthrottled else 1
        encode = self.source.encode
        lateness = sm.lateness if self.record_lateness else None
        order_append = self._order.append
        house = self._housekeeping
        next_house = 0.0
        self._started = time.monotonic()
        self._last_progress = (self._started, 0)
        self._next_progress = self._started + s.progress_interval
        while True:
            full_pass = skip_through == 0 and start_at is None
            published_in_pass = 0
            for record, parts in self._due_records(skip_through, start_at, shifted, read_ahead, not unthrottled):
                line = record.line_number
                obs = record.time
                deadline = pacer.next_deadline(obs)
                shifted_time = None
                if shifted:
                    shifted_time = datetime.fromtimestamp(round(deadline + wall_offset, 3), timezone.utc)
                now = time.monotonic()
                if now >= next_house:
                    house(now)
                    next_house = now + 0.05
                if not pub.acquire_slot(stop, house):
                    return False
                # everything for this message is ready: only the wait, sent_at and the publish call remain
                if not unthrottled and deadline > time.monotonic():
                    if not wait_until(deadline, stop, house):
                        return False
                elif stop.is_set():
                    return False
                if lateness is not None:
                    lateness.append(time.monotonic() - deadline)
                sent_at = datetime.now(timezone.utc)
                if parts is not None:
                    pub.publish(fill_template(parts, seq, sent_at, shifted_time), seq)
                else:
                    pub.publish(encode(record, seq=seq, sent_at=sent_at, time=shifted_time), seq)
                order_append((seq, line, self._passes))
                if sm.first_seq is None:
                    sm.first_seq = seq
                sm.last_seq = seq
                sm.published += 1
                self._current_line = line
                self._current_time = obs
                seq += 1
                published_in_pass += 1
            self.input_errors.finish()
            if self.input_errors.file_error is not None:
                # Every record before the damage is published; another pass would only repeat them.
                self.end_reason = StopReason.FILE_DAMAGED
                return True
            if not self._records_in_pass:
                emit(log, logging.ERROR, "no-records", f"{s.data_file} has no decodable record "
                     f"({self.input_errors.skipped} lines skipped; `station inspect {s.data_file}` shows why)",
                     file=str(s.data_file))
                self.end_reason = StopReason.NO_RECORDS
                return True
            if not published_in_pass and start_at is not None:
                emit(log, logging.WARNING, "start-at", f"no record at or after START_AT={start_at.isoformat()}")
            if not s.loop or (full_pass and not published_in_pass):
                return True
            self._passes += 1
            skip_through = 0
            start_at = None
            pacer.new_pass()
            emit(log, logging.INFO, "loop", f"end of file: pass {self._passes + 1} starts", next_seq=seq)

    def _drain(self, finished: bool) -> None:
        s, pub, sm = self.s, self.publisher, self.summary
        assert pub is not None
        sm.reason = self.end_reason if finished else self.stop_reason
        self._write_status(State.DRAINING)
        timeout = s.drain_timeout
        if finished:
            # At the end of the file, wait (while not stopped) for every PUBACK: that is what "finished" means.
            while not pub.wait_idle(0.25):
                self._housekeeping()
                if self.stop.is_set():
                    sm.reason = self.stop_reason
                    finished = False
                    break
        if not finished:
            emit(log, logging.INFO, "draining", f"waiting up to {timeout:g} s for in-flight publishes",
                 inflight=sm.published - sm.acknowledged - sm.failed)
            deadline = time.monotonic() + timeout
            while not pub.wait_idle(min(0.25, max(0.0, deadline - time.monotonic()))):
                self._housekeeping()
                if time.monotonic() >= deadline:
                    break
        self._absorb(pub.drain_completions())
        sm.unacknowledged = sm.published - sm.acknowledged - sm.failed
        all_done = finished and sm.unacknowledged == 0
        # A damaged file is never marked finished: a restart resumes after its last good record and says so again.
        self._save_checkpoint(finished=all_done and not s.loop and sm.reason == StopReason.FINISHED)
        self._write_status(State.FINISHED if all_done else State.STOPPED)
        self._log_summary()

    def _log_summary(self) -> None:
        self._writer.flush()
        sm = self.summary
        sm.duration_s = time.monotonic() - self._started
        sm.passes = self._passes
        if self.publisher is not None:
            sm.reconnects = max(0, self.publisher.connect_count - 1)
        if self._last_ack is not None:
            sm.last_acked_seq, sm.last_acked_line = self._last_ack[0], self._last_ack[1]
        problems = self.input_errors
        sm.skipped_lines, sm.skipped_by_kind = problems.skipped, problems.kinds_text()
        sm.file_error = problems.file_error.message if problems.file_error else None
        extra: dict[str, Any] = {"skipped_by_kind": sm.skipped_by_kind} if sm.skipped_by_kind else {}
        if sm.file_error:
            extra["file_error"] = sm.file_error
        emit(log, logging.INFO, "summary", "", reason=sm.reason, published=sm.published,
             acknowledged=sm.acknowledged, failed=sm.failed, unacknowledged=sm.unacknowledged,
             first_seq=sm.first_seq, last_seq=sm.last_seq, checkpoint_line=sm.last_acked_line,
             checkpoint_seq=sm.last_acked_seq, passes=sm.passes, reconnects=sm.reconnects,
             skipped_lines=sm.skipped_lines, **extra, duration_s=round(sm.duration_s, 3), rate=f"{sm.rate:.1f}/s",
             **self._memory())

    def _memory(self) -> dict[str, float | None]:
        """peak_rss_mb: this process's peak RSS plus, with a decode-ahead worker, the worker's private memory
        (an upper bound of what the pair holds: the pages they share are in this process's RSS already);
        decoder_rss_mb: the worker's own peak RSS, shared pages included."""
        own = peak_rss_mb()
        if not isinstance(self.source, DecodeAheadSource) or self.source.worker_peak_rss_mb is None:
            return {"peak_rss_mb": own}
        private = self.source.worker_private_mb
        if private is None:  # no smaps_rollup: count the worker's whole RSS
            private = self.source.worker_peak_rss_mb
        total = round(own + private, 1) if own is not None else None
        return {"peak_rss_mb": total, "decoder_rss_mb": self.source.worker_peak_rss_mb}
