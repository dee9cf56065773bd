"""One station's replay, whatever hosts it: the engine's core.

A lane never blocks: its host (one station, `station.replay`, or a group's scheduler, `station.group.runtime`)
waits for `deadline` and calls `publish`, then `advance`. Invariants: seq only increases (across restarts and
passes); the checkpoint advances only over the contiguous prefix of acknowledged messages (`AckLedger`); a resume
starts after the checkpoint's line with seq + 1 (`start_point`); START_OFFSET / START_AT apply to a fresh start
only; a failed publish is counted and logged, never retried; a damaged file ends the replay after its last good
record (reason file-damaged) and is never checkpointed as finished; LOOP never starts another pass over it.

Hooks (`station.engine.instruments` attaches them; None: the fast path): every outgoing message passes through
`publish`, which steps it through the lane's `FaultInjector`; every PUBACK or failure through `absorb`, which also
hands the metrics what happened since their last sync (published, acknowledged, failed, in flight, lateness), at
most once per METRICS_SYNC_S (a scrape sees counts at most that old; `flush_metrics` syncs now, and the host calls
it when the lane ends); connection events through `connection_event`.
With faults: a seq enters the ack window when it is stepped, so a held message (offline buffer, delay, reorder)
keeps the checkpoint behind it; it is resolved by its primary emission's PUBACK, or at once when dropped at the
source; extra copies (duplicates, forgeries) carry an `Extra` token the ack window ignores. Held messages go out
from `release` (housekeeping) and at the end of the data; a stop request leaves them to the next run.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from station import checkpoint as ckpt
from station.engine.cache import station_prefix
from station.engine.ledger import AckLedger, Extra
from station.engine.outage import POLL_S, Outage, Phase
from station.engine.states import LaneState
from station.engine.resume import start_point
from station.engine.summary import Summary
from station.engine.writer import BackgroundWriter
from station.exit_codes import StopReason
from station.logging_setup import emit
from station.publisher import ConnectionEvent
from station.scheduler import Pacer
from station.sources import fill

METRICS_SYNC_S = 5.0  # a lane hands its counts to the metrics at most this often (a sync costs a lock: ~2 us)

log = logging.getLogger("station.engine")


class Lane:
    """See module docstring. `publisher` and `feed` are set by the host; `fields` go on every log line of the
    lane (a group's `thing=`), `detail` is the level of its resume and loop lines."""

    __slots__ = ("name", "data_file", "checkpoint_file", "start_offset", "fields", "detail", "max_failures_shown",
                 "_state", "injector", "metrics", "truth", "outage", "_synced", "_lates", "_next_sync", "publisher", "feed", "fingerprint", "prefix", "pacer", "seq", "record", "deadline",
                 "token", "ledger", "summary", "skip_through", "start_at", "full_pass", "published_in_pass",
                 "resumed", "connect_deadline", "retrying", "last_line", "last_time", "failures_shown",
                 "failures_hidden")

    def __init__(self, thing_name: str, data_file: Path, state_dir: Path, *, start_offset: int = 0,
                 fields: dict[str, Any] | None = None, detail: int = logging.INFO,
                 max_failures_shown: int = 20) -> None:
        self.name = thing_name
        self.data_file = data_file
        self.checkpoint_file = ckpt.checkpoint_path(state_dir, thing_name)
        self.start_offset = start_offset
        self.fields = fields or {}
        self.detail = detail
        self.max_failures_shown = max_failures_shown
        self.injector: Any = None  # FaultInjector (station.faults)
        self.metrics: Any = None   # StationHandle (station.metrics)
        self.truth: Any = None     # the ground truth, flushed before each checkpoint save
        self.outage: Outage | None = None
        self._synced = (0, 0, 0)  # (published, acknowledged, failed) when the metrics last heard of them
        self._lates: list[float] = []
        self._next_sync = 0.0     # monotonic time of the next metrics sync
        self._state = LaneState.WAITING
        self.publisher: Any = None
        self.feed: Any = None
        self.fingerprint = ""
        self.prefix = station_prefix(thing_name)
        self.pacer: Pacer | None = None
        self.seq = 1
        self.record: Any = None
        self.deadline = 0.0
        self.token = 0  # a group's scheduler bumps it on every reschedule: older heap entries are stale
        self.ledger = AckLedger()
        self.summary = Summary()
        self.skip_through = 0
        self.start_at: datetime | None = None
        self.full_pass = True
        self.published_in_pass = 0
        self.resumed = False
        self.connect_deadline = 0.0
        self.retrying = False  # failed for not connecting in time, its client still trying (it may recover)
        self.last_line = 0
        self.last_time: datetime | None = None
        self.failures_shown = self.failures_hidden = 0

    @property
    def state(self) -> LaneState:
        return self._state

    @state.setter
    def state(self, value: LaneState) -> None:
        self._state = value
        if self.metrics is not None:
            self.metrics.state(value)

    # --- start ---------------------------------------------------------------------------------------------
    def resume(self, feed: Any, fingerprint: str, *, start_at: datetime | None, loop: bool) -> bool:
        """Set the start point from the checkpoint; False when the file was fully replayed already (no LOOP)."""
        self.feed, self.fingerprint = feed, fingerprint
        point = start_point(self.checkpoint_file, thing_name=self.name, data_file=self.data_file,
                            fingerprint=fingerprint, start_offset=self.start_offset, start_at=start_at, loop=loop,
                            level=self.detail, **self.fields)
        if point is None:
            return False
        self.skip_through, self.seq, self.start_at = point.skip_through, point.seq, point.start_at
        self.summary.passes, self.resumed = point.passes, point.resumed
        self.ledger = AckLedger(point.last_ack)
        return True

    def begin(self, pacer: Pacer, *, loop: bool) -> bool:
        """Start publishing on `pacer`'s deadlines; False when there is nothing to publish (see `advance`)."""
        self.pacer = pacer
        self.state = LaneState.PUBLISHING
        self.full_pass = self.skip_through == 0 and self.start_at is None
        self.published_in_pass = 0
        self.feed.restart(self.skip_through, self.start_at)
        return self.advance(loop=loop)

    # --- publishing ----------------------------------------------------------------------------------------
    def advance(self, *, loop: bool) -> bool:
        """Load the next record and its deadline; at the end of a pass start the next (LOOP); False at the end of
        the replay, with `summary.reason` saying why (finished, file-damaged or no-records)."""
        while True:
            record = self.feed.next()
            if record is not None:
                self.record = record
                self.deadline = self.pacer.next_deadline(record.time)  # type: ignore[union-attr]
                return True
            self.record = None
            if not self._next_pass(loop):
                if self.injector is not None:  # the end of the data: whatever is still held goes now
                    self._emit_all(self.injector.drain())
                    self.outage = None  # nothing left to publish: a last disconnect has nothing to act on
                return False

    def _next_pass(self, loop: bool) -> bool:
        feed, sm = self.feed, self.summary
        if feed.file_error is not None:  # every record before the damage is published: another pass repeats them
            sm.reason = StopReason.FILE_DAMAGED
            return False
        if not feed.decoded:
            emit(log, logging.ERROR, "no-records", f"{self.data_file} has no decodable record ({feed.skipped} lines "
                 f"skipped; `station inspect {self.data_file}` shows why)", file=str(self.data_file), **self.fields)
            sm.reason = StopReason.NO_RECORDS
            return False
        if not self.published_in_pass and self.start_at is not None:
            emit(log, logging.WARNING, "start-at", f"no record at or after START_AT={self.start_at.isoformat()}",
                 **self.fields)
        sm.reason = StopReason.FINISHED
        if not loop or (self.full_pass and not self.published_in_pass):
            return False
        sm.passes += 1
        self.full_pass, self.published_in_pass, self.skip_through, self.start_at = True, 0, 0, None
        self.pacer.new_pass()  # type: ignore[union-attr]
        feed.restart(0, None)
        emit(log, self.detail, "loop", f"end of file: pass {sm.passes + 1} starts", next_seq=self.seq,
             **self.fields)
        return True

    def publish(self, sent_at: datetime, shifted_time: datetime | None, late: float) -> None:
        """Send the loaded record as the next seq: the one place every outgoing message passes."""
        rec, seq, sm = self.record, self.seq, self.summary
        payload = fill(self.prefix, rec.parts, seq, sent_at, shifted_time)
        self.ledger.sent(seq, rec.line_number, sm.passes)
        if self.injector is None:
            self.publisher.publish(payload, seq)
            sm.published += 1
        else:
            self._apply(self.injector.step(seq, payload, time.time()))
        if self.metrics is not None:
            self._lates.append(late)
        if sm.first_seq is None:
            sm.first_seq = seq
        sm.last_seq = seq
        if late > sm.lateness_max:
            sm.lateness_max = late
        self.published_in_pass += 1
        self.last_line, self.last_time = rec.line_number, rec.time
        self.seq = seq + 1

    # --- faults --------------------------------------------------------------------------------------------
    def _apply(self, step: Any) -> None:
        """Do what the injector's `Step` says (station.faults.injector)."""
        if step.emit:
            self._emit_all(step.emit)
        for seq in step.dropped:  # never sent: resolved at once, so the checkpoint moves past it
            self.ledger.resolve(seq)
        if step.actions and self.outage is None:
            self.outage = Outage(max(a.down_s for a in step.actions))

    def _emit_all(self, emissions: list[Any]) -> None:
        publish, sm = self.publisher.publish, self.summary
        for e in emissions:
            publish(e.payload, e.seq if e.primary else Extra(e.seq))
        sm.published += len(emissions)

    def release(self, now: float | None = None) -> None:
        """Delayed messages whose time came (from the host's housekeeping; `now`: wall time)."""
        if self.injector is not None and self.publisher is not None and self._state is LaneState.PUBLISHING:
            emitted = self.injector.release(time.time() if now is None else now)
            if emitted:
                self._emit_all(emitted)

    def outage_step(self, now: float, topic: str) -> float | None:
        """Drive a disconnect fault (`station.engine.outage`): the monotonic time to call again, or None when the
        lane is connected again and may publish."""
        o, pub = self.outage, self.publisher
        if o is None:
            return None
        if o.phase is Phase.IDLE:
            self.absorb(topic)
            if pub.inflight or self.summary.inflight:
                return now + POLL_S
            emit(log, self.detail, "fault-disconnect", f"closing the connection for {o.down_s:g} s",
                 **self.fields)
            pub.pause()
            o.phase, o.until = Phase.DOWN, now + o.down_s
            return o.until
        if o.phase is Phase.DOWN:
            if now < o.until:
                return o.until
            pub.resume()
            o.phase = Phase.UP
            return now + POLL_S
        if pub.connected:
            self.outage = None
            return None
        return now + POLL_S

    def connection_event(self, kind: ConnectionEvent) -> None:
        """A connection event of the lane's client (any thread: the metrics are thread-safe)."""
        m = self.metrics
        if m is None:
            return
        if kind is ConnectionEvent.CONNECTED:
            m.connected(reconnect=getattr(self.publisher, "connect_count", 1) > 1)
        elif kind is ConnectionEvent.CONNECT_FAILED:
            m.connect_failed()

    # --- acknowledgements and checkpoints ------------------------------------------------------------------
    def absorb(self, topic: str) -> None:
        """Collect the publisher's completions: every PUBACK or failure passes here."""
        pub = self.publisher
        if pub is None:
            return
        completions = pub.drain_completions()
        if not completions:
            if self.metrics is not None:
                self._sync_metrics()
            return
        acked, failed = self.ledger.absorb(completions)
        sm = self.summary
        sm.acknowledged += acked
        for c in failed:
            sm.failed += 1
            if self.failures_shown < self.max_failures_shown:
                self.failures_shown += 1
                emit(log, logging.ERROR, "publish-failed", c.reason or "failed", **self.fields, seq=getattr(c.token, "seq", c.token),
                     topic=topic)
            else:
                self.failures_hidden += 1
        if self.metrics is not None:
            self._sync_metrics()

    def _sync_metrics(self) -> None:
        """Hand the metrics what happened since their last sync, if METRICS_SYNC_S have passed since it."""
        now = time.monotonic()
        if now >= self._next_sync:
            self._next_sync = now + METRICS_SYNC_S
            self.flush_metrics()

    def flush_metrics(self) -> None:
        """Hand the metrics what happened since their last sync (published, acknowledged, failed, lateness), now."""
        if self.metrics is None:
            return
        sm = self.summary
        published, acked, failed = sm.published, sm.acknowledged, sm.failed
        p0, a0, f0 = self._synced
        if published != p0 or acked != a0 or failed != f0 or self._lates:
            self.metrics.sync(published - p0, acked - a0, failed - f0, self._lates)
            self._synced, self._lates = (published, acked, failed), []

    def save_checkpoint(self, writer: BackgroundWriter | None, *, final: bool = False, loop: bool = False) -> bool:
        """Submit the checkpoint to `writer` when the acknowledged prefix moved (True when submitted); `final`: the
        last one of the run, marked finished when the file's last pass ended and all of it was acknowledged (never
        with LOOP, never for a damaged file)."""
        finished = final and not loop and self.summary.reason is StopReason.FINISHED and self.summary.inflight == 0
        if writer is None or self.ledger.last_ack is None:
            return False
        moved = self.ledger.changed()
        if moved is None and not finished:
            return False
        seq, line, passes = self.ledger.last_ack
        model = ckpt.Checkpoint(thing_name=self.name, data_file=str(self.data_file), fingerprint=self.fingerprint,
                                line=line, seq=seq, passes=passes, finished=finished)
        path, truth = self.checkpoint_file, self.truth
        if truth is None:
            writer.submit(self.name, lambda: ckpt.save(path, model))
        else:  # faults on the seqs this checkpoint covers (recorded when they were stepped, so before this call)
            # are on disk before it is: the ground truth's flush, then the checkpoint, on the writer's thread
            writer.submit(self.name, lambda: (truth.flush(), ckpt.save(path, model)))
        return True

    def summary_fields(self) -> dict[str, Any]:
        """The summary line's fields (after filling in what the ledger and the client know)."""
        sm = self.summary
        if self.ledger.last_ack is not None:
            sm.last_acked_seq, sm.last_acked_line = self.ledger.last_ack[0], self.ledger.last_ack[1]
        if self.publisher is not None:
            sm.reconnects = max(0, self.publisher.connect_count - 1)
        return {**self.fields, **sm.fields()}
