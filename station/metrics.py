"""Prometheus metrics of a station process, single or group (docs/observability.md lists every series).

METRICS_PORT and METRICS_PER_STATION are replay settings (`station.settings.ReplayFields`). The replay engine
(`station.engine.instruments`) makes one `StationMetrics` per process and one `StationMetrics.station(thing)` handle per station
it runs, then calls the handle's methods where things happen; `serve(port)` exposes them. Every series is labelled
`group` (the process: `group-<shard>` for a group, the thing name for a single station); with `per_station=True`
(METRICS_PER_STATION, small fleets only) also `station`. Without it, every handle of a process shares one child
per series, so the hot path (`published`, `acked`) is one lock-protected add, as cheap as it gets.

Invariants: `in flight` = published - acknowledged - failed (kept by the handle, not set by the caller); each
station is counted in exactly one state of `weather_fleet_stations` from its first `state()` call on.
"""

from __future__ import annotations

import bisect
import enum
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fleetcore.metrics import PREFIX, MetricsServer, serve_metrics

# Seconds a publish went out after its scheduled time: most are sub-millisecond; a saturated host shows seconds.
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0)


class StationMetrics:
    """The metric families of one station process, in their own registry."""

    def __init__(self, group: str, *, per_station: bool = False, registry: CollectorRegistry | None = None) -> None:
        self.group = group
        self.per_station = per_station
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.registry.register(_FlushFirst(self))  # before the families: a scrape flushes, then reads them
        labels = ("group", "station") if per_station else ("group",)
        r = self.registry

        def counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> Counter:
            return Counter(PREFIX + name, doc, labels + extra, registry=r)

        self.stations = Gauge(PREFIX + "stations", "Stations of this process in each state.", labels + ("state",),
                              registry=r)
        self.connects = counter("connects_total", "Successful MQTT connections (first ones and reconnections).")
        self.connect_failures = counter("connect_failures_total", "Connection attempts that failed.")
        self.reconnects = counter("reconnects_total", "Successful connections after a lost one.")
        self.published_total = counter("messages_published_total", "QoS1 PUBLISH packets sent.")
        self.acked_total = counter("messages_acked_total", "Publishes the broker acknowledged (PUBACK, success).")
        self.failed_total = counter("messages_failed_total", "Publishes that failed (refused, timed out, dropped).")
        self.in_flight = Gauge(PREFIX + "messages_in_flight", "Publishes sent and not yet acknowledged or failed.",
                               labels, registry=r)
        self.lateness = Histogram(PREFIX + "schedule_lateness_seconds",
                                  "How long after its scheduled time each message was published.", labels,
                                  buckets=LATENESS_BUCKETS, registry=r)
        self.faults = counter("faults_injected_total", "Faults injected into this process, by kind.", ("kind",))
        group_only = ("group",)
        self.last_publish = Gauge(PREFIX + "last_publish_timestamp_seconds",
                                  "Unix time of the process's latest publish.", group_only, registry=r)
        self.expected_interval = Gauge(PREFIX + "expected_interval_seconds",
                                       "Longest gap the schedule allows between two publishes of this process "
                                       "(alert FleetGroupSilent).", group_only, registry=r)
        self._last_publish = self.last_publish.labels(group)
        self._lock = threading.Lock()
        self.late_bounds = [*LATENESS_BUCKETS, float("inf")]
        # published, acked, failed, lateness sum, lateness bucket counts: synced by the handles, not yet in the series
        self._pending: list = [0, 0, 0, 0.0, [0] * len(self.late_bounds)]

    def flush(self) -> None:
        """Move the handles' pending tally into the process's series (at each scrape, and when asked)."""
        if self.per_station:
            return
        with self._lock:
            p = self._pending
            if not (p[0] or p[1] or p[2] or any(p[4])):
                return
            self._pending = [0, 0, 0, 0.0, [0] * len(self.late_bounds)]
            v = (self.group,)
            self._apply(self.published_total.labels(*v), self.acked_total.labels(*v), self.failed_total.labels(*v),
                        self.in_flight.labels(*v), self.lateness.labels(*v), (p[0], p[1], p[2], p[4], p[3]))

    def _apply(self, published: Counter, acked: Counter, failed: Counter, in_flight: Gauge, lateness: Histogram,
               delta: tuple) -> None:
        n_pub, n_ack, n_fail, counts, total = delta
        if n_pub:
            published.inc(n_pub)
            self._last_publish.set(time.time())
        if n_ack:
            acked.inc(n_ack)
        if n_fail:
            failed.inc(n_fail)
        if n_pub != n_ack + n_fail:
            in_flight.inc(n_pub - n_ack - n_fail)
        if any(counts):
            # the histogram child's own buckets and sum (prometheus_client internals: `_buckets`, `_sum`), each
            # incremented once per batch; tests/station/test_metrics.py checks the exposition
            lateness._sum.inc(total)  # type: ignore[attr-defined]
            for i, n in enumerate(counts):
                if n:
                    lateness._buckets[i].inc(n)  # type: ignore[attr-defined]

    def station(self, thing_name: str) -> StationHandle:
        """The handle the engine calls for `thing_name` (one per station; cheap to hold, thread-safe)."""
        return StationHandle(self, thing_name)

    def set_expected_interval(self, seconds: float) -> None:
        """The longest gap the schedule allows between two publishes (recorded spacing / SPEEDUP, or INTERVAL)."""
        self.expected_interval.labels(self.group).set(seconds)

    def serve(self, port: int) -> MetricsServer | None:
        """Expose /metrics on `port` (0: none)."""
        return serve_metrics(self.registry, port, what=f"station metrics ({self.group})")


def _buckets(bounds: list[float], values: list[float]) -> tuple[list[int], float]:
    """Per-bucket counts (non-cumulative, the histogram child's own layout) and the sum of `values` (< 0 as 0)."""
    counts = [0] * len(bounds)
    total = 0.0
    for v in values:
        if v > 0:
            total += v
            counts[bisect.bisect_left(bounds, v)] += 1
        else:
            counts[0] += 1
    return counts, total


class _FlushFirst:
    """A collector with no series of its own: `collect` flushes the pending tally. CollectorRegistry.collect
    collects in registration order, and this one is registered before the families, so a scrape sees every
    message synced before it."""

    def __init__(self, metrics: StationMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> list:
        self._metrics.flush()
        return []

    def describe(self) -> list:
        return []


class StationHandle:
    """One station's view of its process's metrics; every method is thread-safe."""

    def __init__(self, metrics: StationMetrics, thing_name: str) -> None:
        self._m = metrics
        self.thing_name = thing_name
        values = (metrics.group, thing_name) if metrics.per_station else (metrics.group,)
        self._values = values
        self._connects = metrics.connects.labels(*values)
        self._connect_failures = metrics.connect_failures.labels(*values)
        self._reconnects = metrics.reconnects.labels(*values)
        self._published = metrics.published_total.labels(*values)
        self._acked = metrics.acked_total.labels(*values)
        self._failed = metrics.failed_total.labels(*values)
        self._in_flight = metrics.in_flight.labels(*values)
        self._lateness = metrics.lateness.labels(*values)
        self._state: str | None = None

    # -- connection ----------------------------------------------------------------------------------------
    def connected(self, *, reconnect: bool = False) -> None:
        """A connection succeeded (`reconnect=True` when an earlier one had been lost)."""
        self._connects.inc()
        if reconnect:
            self._reconnects.inc()

    def connect_failed(self) -> None:
        self._connect_failures.inc()

    # -- messages ------------------------------------------------------------------------------------------
    def published(self, n: int = 1) -> None:
        """`n` PUBLISH packets went out (each now in flight until `acked` or `failed`)."""
        self._published.inc(n)
        self._in_flight.inc(n)
        self._m._last_publish.set(time.time())

    def acked(self, n: int = 1) -> None:
        self._acked.inc(n)
        self._in_flight.dec(n)

    def failed(self, n: int = 1) -> None:
        self._failed.inc(n)
        self._in_flight.dec(n)

    def sync(self, published: int, acked: int, failed: int, lateness: list[float]) -> None:
        """What happened since the last sync, in one go: the engine calls it from `Lane.absorb`, so the hot path
        pays a list append per message, not a lock per series. Without per-station series every handle of the
        process adds into one pending tally (one lock), which reaches the series at each scrape
        (`StationMetrics.flush`); with them, into the station's own series at once. `lateness`: each message's
        seconds after its schedule."""
        m = self._m
        if m.per_station:
            with m._lock:
                m._apply(self._published, self._acked, self._failed, self._in_flight, self._lateness,
                         (published, acked, failed, *_buckets(m.late_bounds, lateness)))
            return
        counts, total = _buckets(m.late_bounds, lateness)
        with m._lock:
            t = m._pending
            t[0] += published
            t[1] += acked
            t[2] += failed
            t[3] += total
            buckets = t[4]
            for i, n in enumerate(counts):
                if n:
                    buckets[i] += n

    def late(self, seconds: float) -> None:
        """One message went out `seconds` after its scheduled time (negative values count as 0)."""
        self._lateness.observe(seconds if seconds > 0 else 0.0)

    # -- state and faults ----------------------------------------------------------------------------------
    def state(self, new: enum.Enum | str) -> None:
        """The station is now in state `new` (station.status.State, a group lane's state, ...: its value labels)."""
        value = new.value if isinstance(new, enum.Enum) else new
        with self._m._lock:
            if value == self._state:
                return
            if self._state is not None:
                self._m.stations.labels(*self._values, self._state).dec()
            self._m.stations.labels(*self._values, value).inc()
            self._state = value

    def fault(self, kind: enum.Enum | str, n: int = 1) -> None:
        """`n` faults of `kind` were injected into this station."""
        self._m.faults.labels(*self._values, kind.value if isinstance(kind, enum.Enum) else kind).inc(n)
