"""What a group says while it runs: the start line, one aggregated progress line every PROGRESS_INTERVAL, the
group status file (`station health`), each station's summary fields and the group's summary.

Overload: when the oldest due publish is more than `OVERLOAD_BEHIND_S` behind schedule at a progress interval, one
WARNING `group-overloaded` line says by how much (seconds behind, p99 lateness, the rate achieved against the
rate scheduled when INTERVAL paces it, publishes held back by back-pressure); the status file carries `behind_s`,
`lateness_p99_s` and `overloaded` at every write."""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING, Any

from station.engine.lane import Lane, LaneState
from station.engine.writer import BackgroundWriter
from station.group.lateness import LatenessStats
from station.group.status import GroupState, group_status_path
from station.logging_setup import emit
from station.sources import peak_rss_mb
from station.status import write_status

if TYPE_CHECKING:
    from station.group.runtime import GroupRuntime

log = logging.getLogger("station.group")
MAX_FAILURES_LISTED = 20  # failed stations named in the status file
OVERLOAD_BEHIND_S = 1.0  # behind schedule by more than this at a progress interval: the group says it is overloaded


class GroupReport:
    """See module docstring; `tick(now)` writes what is due."""

    def __init__(self, runtime: GroupRuntime, write_state: bool) -> None:
        self.rt = runtime
        # the status file has a writer of its own: it never waits behind a thousand checkpoint writes
        self._writer = BackgroundWriter() if write_state else None
        self.lateness = LatenessStats()
        self.status_due = False
        self._started = 0.0
        self._last_progress = (0.0, 0)
        self._next_status = self._next_progress = 0.0
        self._last_p99: float | None = None
        self._held_then = 0

    @property
    def next_due(self) -> float:
        return min(self._next_status, self._next_progress)

    def start(self) -> None:
        s, rt = self.rt.s, self.rt
        emit(log, logging.INFO, "group-start", "", shard=rt.shard.shard, stations=len(rt.lanes),
             endpoint=f"{s.mqtt_host}:{s.mqtt_port}", target=s.target, topic=s.topic, pacing=s.pacing_text(),
             loop=s.loop, time_mode=s.time_mode, connect_rate=f"{s.effective_connect_rate:g}/s")
        self._status(GroupState.STARTING)

    def begin(self, now: float) -> None:
        self._started = now
        self._last_progress = (now, 0)
        self._next_status, self._next_progress = now, now + self.rt.s.progress_interval

    def tick(self, now: float) -> None:
        if now >= self._next_status or self.status_due:
            self.status_due = False
            self._status()
            self._next_status = now + 1.0
        if now >= self._next_progress:
            self._progress(now)
            self._next_progress = now + self.rt.s.progress_interval

    def states(self) -> dict[LaneState, int]:
        """Stations per state, every state listed (the status file's `states`)."""
        counts = collections.Counter(lane.state for lane in self.rt.lanes)
        return {state: counts.get(state, 0) for state in LaneState}

    def totals(self) -> dict[str, int]:
        pub = ack = failed = connected = disconnects = 0
        for lane in self.rt.lanes:
            sm = lane.summary
            pub += sm.published
            ack += sm.acknowledged
            failed += sm.failed
            if lane.publisher is not None:
                connected += lane.publisher.connected
                disconnects += getattr(lane.publisher, "disconnect_count", 0)
        return dict(published=pub, acked=ack, failed=failed, connected=connected, disconnects=disconnects)

    def behind_s(self, now: float) -> float:
        """How far behind schedule the group is: the age of the oldest due, unsent publish (0 when on time)."""
        oldest = min((lane.deadline for lane in self.rt.lanes if lane.state is LaneState.PUBLISHING), default=now)
        return max(0.0, now - oldest)

    def scheduled_rate(self, publishing: int) -> float | None:
        """Publishes per second the schedule asks for (INTERVAL pacing only; None for SPEEDUP)."""
        s = self.rt.s
        if s.effective_speedup or not s.interval:
            return None
        rate, cap = publishing / s.interval, s.effective_max_rate
        return min(rate, publishing * cap) if cap else rate

    def _progress(self, now: float) -> None:
        totals = self.totals()
        then, acked_then = self._last_progress
        rate = (totals["acked"] - acked_then) / (now - then) if now > then else 0.0
        self._last_progress = (now, totals["acked"])
        counts = self.states()
        p99 = self._last_p99 = self.lateness.take_interval_p99()
        behind = self.behind_s(now)
        held, self._held_then = self.rt.held_back - self._held_then, self.rt.held_back
        if behind > OVERLOAD_BEHIND_S:
            scheduled = self.scheduled_rate(counts[LaneState.PUBLISHING])
            share = f", {rate:.0f} of {scheduled:.0f} msg/s scheduled ({rate / scheduled:.0%})" if scheduled else ""
            emit(log, logging.WARNING, "group-overloaded",
                 f"behind schedule by {behind:.1f} s{share}: the host or the broker cannot keep up ("
                 f"{totals['connected']} of {len(self.rt.lanes)} connected, in-flight capped at {self.rt.inflight_cap})", shard=self.rt.shard.shard, behind_s=round(behind, 3),
                 lateness_p99_s=None if p99 is None else round(p99, 3), rate=f"{rate:.1f}/s",
                 scheduled_rate=None if scheduled is None else f"{scheduled:.1f}/s", held_back=held,
                 connected=totals["connected"], stations=len(self.rt.lanes))
        emit(log, logging.INFO, "group-progress", "", shard=self.rt.shard.shard, stations=len(self.rt.lanes),
             connected=totals["connected"], publishing=counts[LaneState.PUBLISHING], connecting=counts[LaneState.CONNECTING],
             waiting=counts[LaneState.WAITING], finished=counts[LaneState.FINISHED], failed_stations=counts[LaneState.FAILED],
             published=totals["published"], acked=totals["acked"], failed=totals["failed"],
             disconnects=totals["disconnects"], inflight=totals["published"] - totals["acked"] - totals["failed"], rate=f"{rate:.1f}/s",
             lateness_p99_s=None if p99 is None else round(p99, 3), behind_s=round(behind, 3))

    def _status(self, state: GroupState | None = None) -> None:
        if self._writer is None:
            return
        lanes = self.rt.lanes
        counts = self.states()
        failures = [f"{lane.name}: {lane.summary.failure}" for lane in lanes
                    if lane.state is LaneState.FAILED][:MAX_FAILURES_LISTED]
        if state is None:
            state = GroupState.FAILED if counts[LaneState.FAILED] == len(lanes) else GroupState.RUNNING
        behind = self.behind_s(self.rt.clock())
        doc = dict(shard=self.rt.shard.shard, stations=len(lanes), states=counts, failures=failures, **self.totals(),
                   behind_s=round(behind, 3), overloaded=behind > OVERLOAD_BEHIND_S, lateness_p99_s=self._last_p99,
                   inflight_cap=self.rt.inflight_cap)
        path = group_status_path(self.rt.s.state_dir)
        self._writer.submit("group-status", lambda: write_status(path, state, **doc))

    def summary_fields(self, lane: Lane) -> dict[str, Any]:
        return {**lane.summary_fields(), "lateness_max_s": round(lane.summary.lateness_max, 3)}

    def finish(self, now: float) -> None:
        """The last progress line (however short the run), the final status and the group summary."""
        rt = self.rt
        self._progress(now)
        counts, totals = self.states(), self.totals()
        n = len(rt.lanes)
        final = GroupState.FAILED if counts[LaneState.FAILED] == n else (
            GroupState.FINISHED if counts[LaneState.FINISHED] + counts[LaneState.FAILED] == n else GroupState.STOPPED)
        self._status(final)
        if self._writer is not None:
            self._writer.flush()
        emit(log, logging.INFO, "group-summary", "", shard=rt.shard.shard,
             reason=rt.stop_reason if rt.stop.is_set() else final.value, stations=n, finished=counts[LaneState.FINISHED],
             stopped=counts[LaneState.STOPPED], failed_stations=counts[LaneState.FAILED], published=totals["published"],
             acknowledged=totals["acked"], failed=totals["failed"],
             unacknowledged=totals["published"] - totals["acked"] - totals["failed"], disconnects=totals["disconnects"],
             lateness_p99_s=self.lateness.run_percentile(0.99), lateness_max_s=round(self.lateness.max, 3),
             duration_s=round(now - self._started, 3), peak_rss_mb=peak_rss_mb())

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
