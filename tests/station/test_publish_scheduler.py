"""Replay pacing: absolute deadlines from the start, rate cap, out-of-order times, loop continuation."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from station.scheduler import Pacer, wait_until

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)


def minutes(*values: float) -> list[datetime]:
    return [T0 + timedelta(minutes=v) for v in values]


def test_speedup_divides_recorded_spacing() -> None:
    pacer = Pacer(speedup=60, origin=100.0)  # one recorded minute per second
    assert [pacer.next_deadline(t) for t in minutes(0, 1, 3, 63)] == [100.0, 101.0, 103.0, 163.0]


def test_deadlines_are_absolute_not_cumulative() -> None:
    """1000 records 20 min apart at S=1200: the 1000th deadline is exactly 999 s after the origin."""
    pacer = Pacer(speedup=1200, origin=0.0)
    deadlines = [pacer.next_deadline(t) for t in minutes(*[20 * i for i in range(1000)])]
    assert deadlines[-1] == pytest.approx(999.0, abs=1e-9)


def test_out_of_order_and_duplicate_times_keep_file_order() -> None:
    pacer = Pacer(speedup=60, origin=0.0)
    deadlines = [pacer.next_deadline(t) for t in minutes(0, 10, 10, 5, 12)]
    assert deadlines == [0.0, 10.0, 10.0, 10.0, 12.0]  # never backwards, later records keep their time


def test_interval_mode_and_rate_cap() -> None:
    pacer = Pacer(interval=1.0, origin=0.0)
    assert [pacer.next_deadline(T0) for _ in range(3)] == [0.0, 1.0, 2.0]
    capped = Pacer(speedup=3600, max_rate=4, origin=0.0)  # records 1 s apart at S=3600 would be 0.28 ms apart
    deadlines = [capped.next_deadline(t) for t in minutes(0, 0.1, 0.2, 60)]
    assert deadlines == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert Pacer(interval=0, origin=0).unthrottled and not capped.unthrottled


def test_loop_continues_after_last_deadline() -> None:
    pacer = Pacer(speedup=60, origin=0.0)
    first = [pacer.next_deadline(t) for t in minutes(0, 2, 4)]
    pacer.new_pass()
    second = [pacer.next_deadline(t) for t in minutes(0, 2, 4)]
    assert first == [0.0, 2.0, 4.0] and second == [6.0, 8.0, 10.0]


def test_needs_exactly_one_mode() -> None:
    with pytest.raises(ValueError):
        Pacer()
    with pytest.raises(ValueError):
        Pacer(speedup=2, interval=1)


def test_wait_until_is_on_time_and_stoppable() -> None:
    stop = threading.Event()
    start = time.monotonic()
    lateness = []
    for i in range(1, 21):
        deadline = start + i * 0.005
        assert wait_until(deadline, stop)
        lateness.append(time.monotonic() - deadline)
    assert max(lateness) < 0.02  # loose bound for a busy CI box; the benchmark measures p99 precisely
    threading.Timer(0.05, stop.set).start()
    t = time.monotonic()
    assert wait_until(t + 10, stop) is False
    assert time.monotonic() - t < 1.0
