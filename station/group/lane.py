"""One station of a group: its own client, seq, pacing, checkpoint, resume and PUBACK bookkeeping.

A lane behaves as a single station (`station.replay.Replay`) does, but it never blocks: the group's scheduler
calls it when its next deadline is due, and it answers with its following deadline. Invariants kept from the
single station: seq only increases (across restarts and passes); the checkpoint advances only over the
contiguous prefix of acknowledged messages; a resume starts after the checkpoint's line with seq + 1;
START_OFFSET / START_AT apply to a fresh start only; a failed publish is counted and logged, never retried.
"""

from __future__ import annotations

import collections
import enum
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from station import checkpoint as ckpt
from station.exit_codes import ExitCode
from station.group.cache import CachedRecord, MessageCache, fill, station_prefix
from station.logging_setup import emit
from station.scheduler import Pacer

log = logging.getLogger("station.group")
MAX_ERROR_LINES = 5  # failed-publish lines logged per lane (then counted only)


class LaneState(str, enum.Enum):
    WAITING = "waiting"          # not connected yet (its connect slot has not come)
    CONNECTING = "connecting"
    PUBLISHING = "publishing"
    DRAINING = "draining"        # end of file: waiting for the last PUBACKs
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (LaneState.FINISHED, LaneState.STOPPED, LaneState.FAILED)


class FailureKind(enum.StrEnum):
    """Why a lane failed; a group whose every lane failed exits with the code a single station would."""

    CONFIG = "config"      # identity files, data file or state folder missing or unreadable
    CONNECT = "connect"    # no connection within CONNECT_TIMEOUT (or the client could not be created)
    DATA = "data"          # the data file is damaged and holds no record

    @property
    def exit_code(self) -> ExitCode:
        return {FailureKind.CONFIG: ExitCode.CONFIG, FailureKind.CONNECT: ExitCode.CONNECT_FAILED,
                FailureKind.DATA: ExitCode.DATA_DAMAGED}[self]


@dataclass
class LaneConfig:
    """Where one thing's files are."""

    thing_name: str
    data_file: Path
    identity_dir: Path
    state_dir: Path
    start_offset: int = 0


@dataclass
class LaneCounters:
    published: int = 0
    acknowledged: int = 0
    failed: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    passes: int = 0
    errors_logged: int = 0
    lateness_max: float = 0.0
    reason: str = ""
    failure: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Lane:
    """See module docstring. `publisher` is set by the runtime when the lane's connect slot comes."""

    __slots__ = ("cfg", "state", "publisher", "cache", "fingerprint", "prefix", "pacer", "seq", "index",
                 "deadline", "record", "token", "counters", "_order", "_resolved", "last_ack", "saved_ack",
                 "skip_through", "start_at", "full_pass", "published_in_pass", "connect_deadline", "last_error",
                 "resumed", "retrying", "failure_kind")

    def __init__(self, cfg: LaneConfig) -> None:
        self.cfg = cfg
        self.state = LaneState.WAITING
        self.publisher: Any = None
        self.cache: MessageCache | None = None
        self.fingerprint = ""
        self.prefix = station_prefix(cfg.thing_name)
        self.pacer: Pacer | None = None
        self.seq = 1
        self.index = 0
        self.deadline = 0.0
        self.record: CachedRecord | None = None
        self.token = 0  # bumped on every reschedule: older heap entries of this lane are stale
        self.counters = LaneCounters()
        self._order: collections.deque[tuple[int, int, int]] = collections.deque()  # (seq, line, pass) in flight
        self._resolved: set[int] = set()
        self.last_ack: tuple[int, int, int] | None = None
        self.saved_ack: tuple[int, int, int] | None = None
        self.skip_through = 0
        self.start_at: datetime | None = None
        self.full_pass = True
        self.published_in_pass = 0
        self.connect_deadline = 0.0
        self.last_error: str | None = None
        self.resumed = False
        self.retrying = False  # failed for not connecting in time, its client still trying (it may recover)
        self.failure_kind: FailureKind | None = None

    @property
    def name(self) -> str:
        return self.cfg.thing_name

    @property
    def checkpoint_file(self) -> Path:
        return ckpt.checkpoint_path(self.cfg.state_dir, self.cfg.thing_name)

    def fail(self, reason: str, kind: FailureKind) -> None:
        self.state = LaneState.FAILED
        self.failure_kind = kind
        self.counters.failure = reason
        self.counters.reason = "failed"
        emit(log, logging.ERROR, "station-failed", reason, thing=self.name)

    # --- start position (as Replay._resume_point) ---------------------------------------------------------
    def resume(self, cache: MessageCache, fingerprint: str, start_at: datetime | None) -> bool:
        """Set where to start from the checkpoint; False when the file was fully replayed already (no LOOP)."""
        self.cache, self.fingerprint = cache, fingerprint
        try:
            saved = ckpt.load(self.checkpoint_file)
        except ckpt.CheckpointError as exc:
            emit(log, logging.WARNING, "checkpoint-reset", f"{exc}; starting over", thing=self.name)
            saved = None
        offset_start = (self.cfg.start_offset, 1)
        if saved is None:
            self.skip_through, self.seq = offset_start
            self.start_at = start_at if self.skip_through == 0 else None
        elif saved.thing_name != self.name or saved.fingerprint != fingerprint:
            emit(log, logging.WARNING, "checkpoint-reset", "data file changed since the checkpoint: starting over, "
                 "seq continues", thing=self.name, next_seq=saved.seq + 1)
            self.skip_through, self.seq = 0, saved.seq + 1
        else:
            self.counters.passes = saved.passes
            self.last_ack = self.saved_ack = (saved.seq, saved.line, saved.passes)
            if saved.finished:
                return False
            self.skip_through, self.seq = saved.line, saved.seq + 1
            self.resumed = True
        self.full_pass = self.skip_through == 0 and self.start_at is None
        return True

    def begin(self, origin: float, *, speedup: float | None, interval: float | None, max_rate: float,
              start_index: int) -> bool:
        """Start publishing at `origin` from record `start_index`; False when there is nothing to publish."""
        self.pacer = Pacer(speedup=speedup, interval=None if speedup else interval, max_rate=max_rate,
                           origin=origin)
        self.index = start_index
        self.state = LaneState.PUBLISHING
        return self.load_next()

    def load_next(self) -> bool:
        """Load the record at `index` and its deadline; False at the end of the pass."""
        cache = self.cache
        assert cache is not None and self.pacer is not None
        if self.index >= len(cache):
            self.record = None
            return False
        self.record = rec = cache.record(self.index)
        self.index += 1
        self.deadline = self.pacer.next_deadline(rec.time)
        return True

    def new_pass(self) -> bool:
        """LOOP: start the file again; False when the pass that just ended published nothing (empty file)."""
        if self.full_pass and not self.published_in_pass:
            return False
        assert self.pacer is not None
        self.counters.passes += 1
        self.full_pass, self.published_in_pass, self.index = True, 0, 0
        self.pacer.new_pass()
        return self.load_next()

    # --- publishing ----------------------------------------------------------------------------------------
    def publish(self, sent_at: datetime, shifted_time: datetime | None) -> None:
        rec = self.record
        assert rec is not None
        seq = self.seq
        self.publisher.publish(fill(self.prefix, rec.parts, seq, sent_at, shifted_time), seq)
        self._order.append((seq, rec.line_number, self.counters.passes))
        c = self.counters
        if c.first_seq is None:
            c.first_seq = seq
        c.last_seq = seq
        c.published += 1
        self.published_in_pass += 1
        self.seq = seq + 1

    def absorb(self, topic: str) -> None:
        """Collect PUBACKs; advance the contiguous acknowledged prefix (as Replay._absorb)."""
        pub = self.publisher
        if pub is None:
            return
        c, order, resolved = self.counters, self._order, self._resolved
        for comp in pub.drain_completions():
            if comp.ok:
                c.acknowledged += 1
                if not resolved and order and order[0][0] == comp.token:
                    self.last_ack = order.popleft()
                    continue
            else:
                c.failed += 1
                if c.errors_logged < MAX_ERROR_LINES:
                    c.errors_logged += 1
                    emit(log, logging.ERROR, "publish-failed", comp.reason or "failed", thing=self.name,
                         seq=comp.token, topic=topic)
            resolved.add(comp.token)
        while order and order[0][0] in resolved:
            self.last_ack = order.popleft()
            resolved.discard(self.last_ack[0])

    def checkpoint(self, finished: bool = False) -> ckpt.Checkpoint | None:
        """The checkpoint to save now, or None when nothing changed."""
        if self.last_ack is None or (self.last_ack == self.saved_ack and not finished):
            return None
        seq, line, passes = self.last_ack
        self.saved_ack = self.last_ack
        return ckpt.Checkpoint(thing_name=self.name, data_file=str(self.cfg.data_file), fingerprint=self.fingerprint,
                               line=line, seq=seq, passes=passes, finished=finished)

    @property
    def inflight(self) -> int:
        c = self.counters
        return c.published - c.acknowledged - c.failed

    def summary_fields(self) -> dict[str, Any]:
        c = self.counters
        return dict(thing=self.name, reason=c.reason or self.state.value, published=c.published,
                    acknowledged=c.acknowledged, failed=c.failed, unacknowledged=self.inflight,
                    first_seq=c.first_seq, last_seq=c.last_seq,
                    checkpoint_line=self.last_ack[1] if self.last_ack else 0,
                    checkpoint_seq=self.last_ack[0] if self.last_ack else None, passes=c.passes,
                    reconnects=max(0, self.publisher.connect_count - 1) if self.publisher is not None else 0,
                    lateness_max_s=round(c.lateness_max, 3),
                    **({"error": c.failure} if c.failure else {}))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
