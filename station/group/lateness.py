"""Schedule lateness of a group's publishes: per progress interval (exact p99) and for the run (1 ms histogram)."""

from __future__ import annotations

import math
from array import array

LATENESS_BUCKETS = 10_001  # 1 ms buckets up to 10 s, the last one counts everything later


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
