"""Replay pacing on absolute deadlines: each record's send time is computed from the start, never from the
previous send, so lateness never accumulates (no drift).

- SPEEDUP mode: deadline = origin + (observation time - first observation time) / speedup. Out-of-order or
  duplicate times never move a deadline backwards: they are sent right after the previous record, in file order.
- INTERVAL mode: deadline = origin + index * interval (0 = as fast as possible).
- MAX_RATE caps either: a deadline is never earlier than the previous one + 1 / max_rate.
- LOOP: `new_pass()` continues the timeline after the last deadline instead of starting over at the origin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime


class Pacer:
    """Computes monotonic-clock deadlines for consecutive records."""

    def __init__(self, *, speedup: float | None = None, interval: float | None = None, max_rate: float = 0.0,
                 origin: float | None = None) -> None:
        if (speedup is None) == (interval is None):
            raise ValueError("give exactly one of speedup or interval")
        if speedup is not None and speedup <= 0:
            raise ValueError("speedup must be > 0")
        self.speedup = speedup
        self.interval = interval
        self.min_gap = 1.0 / max_rate if max_rate > 0 else 0.0
        self.origin = time.monotonic() if origin is None else origin
        self._first_obs: datetime | None = None
        self._max_obs: datetime | None = None
        self._first_spacing: float | None = None
        self._index = 0
        self._last: float | None = None

    @property
    def unthrottled(self) -> bool:
        return self.interval == 0 and self.min_gap == 0

    def next_deadline(self, observation: datetime) -> float:
        """The monotonic time at which the next record (observed at `observation`) is due."""
        if self.interval is not None:
            deadline = self.origin + self._index * self.interval
        else:
            if self._first_obs is None:
                self._first_obs = self._max_obs = observation
            elif observation > self._max_obs:  # type: ignore[operator]
                if self._first_spacing is None:
                    self._first_spacing = (observation - self._first_obs).total_seconds() / self.speedup  # type: ignore[operator]
                self._max_obs = observation
            deadline = self.origin + (self._max_obs - self._first_obs).total_seconds() / self.speedup  # type: ignore[operator]
        if self._last is not None:
            deadline = max(deadline, self._last + self.min_gap)
        self._index += 1
        self._last = deadline
        return deadline

    def new_pass(self) -> None:
        """Start the file again (LOOP): the next record comes one recorded spacing after the last deadline."""
        if self._last is None:
            return
        gap = self.interval if self.interval is not None else (self._first_spacing or 0.0)
        self.origin = self._last + max(gap, self.min_gap)
        self._first_obs = self._max_obs = None
        self._index = 0


def wait_until(deadline: float, stop: threading.Event, tick: Callable[[], None] | None = None,
               slice_s: float = 0.25) -> bool:
    """Sleep until `deadline` (monotonic); call `tick` at least every `slice_s`. False when `stop` was set."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return not stop.is_set()
        if stop.wait(min(remaining, slice_s)):
            return False
        if tick is not None and remaining > slice_s:
            tick()
