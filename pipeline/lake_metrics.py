"""Prometheus metrics of the lake writer (`pipeline lake`), on LAKE_METRICS_PORT (docs/observability.md).

The counts are the writer's own (`LakeWriter.duplicates`, `.quarantined`, ...), read at scrape time by a collector,
so there is one count of each thing, never a second one to keep in step; the two histograms (end-to-end latency,
flush duration) are observed by the writer as it flushes. Labelled `group` (the writer's client id: several
writers on one broker stay apart).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleetcore.metrics import PREFIX, MetricsServer, serve_metrics

if TYPE_CHECKING:
    from pipeline.lake import LakeWriter

# sent_at -> in a lake file: at least the buffering (LAKE_BUFFER_SECONDS, 60 by default), so up to many minutes.
E2E_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 90.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
FLUSH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
L = PREFIX + "lake_"


class LakeMetrics:
    """The lake writer's registry: call `attach(writer, received)` once the writer exists, then `serve(port)`."""

    def __init__(self, group: str, registry: CollectorRegistry | None = None) -> None:
        self.group = group
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.e2e_latency = Histogram(L + "e2e_latency_seconds", "From a message's sent_at to its lake file being "
                                     "in place (durable, visible to queries).", ["group"], buckets=E2E_BUCKETS,
                                     registry=self.registry).labels(group)
        self.flush_duration = Histogram(L + "flush_duration_seconds", "Time one flush took (files, ledger, acks).",
                                        ["group"], buckets=FLUSH_BUCKETS, registry=self.registry).labels(group)

    def attach(self, writer: LakeWriter, received: Callable[[], int] = lambda: 0) -> None:
        """Report `writer`'s counts (and `received()`, the subscriber's) at every scrape."""
        self.registry.register(_WriterCollector(self.group, writer, received))

    def flushed(self, seconds: float, latencies: Iterable[float]) -> None:
        """One flush took `seconds` and put messages with these sent_at -> lake latencies in the lake."""
        self.flush_duration.observe(seconds)
        for latency in latencies:
            self.e2e_latency.observe(latency if latency > 0 else 0.0)

    def serve(self, port: int) -> MetricsServer | None:
        return serve_metrics(self.registry, port, what="lake writer metrics")


class _WriterCollector(Collector):
    def __init__(self, group: str, writer: LakeWriter, received: Callable[[], int]) -> None:
        self.group, self.writer, self.received = group, writer, received

    def describe(self) -> Iterator[Metric]:
        return iter(())  # unchecked: the names are fixed below

    def collect(self) -> Iterator[Metric]:
        w, g = self.writer, [self.group]
        for name, doc, value in (
                ("messages_received_total", "Messages the writer's subscription received.", self.received()),
                ("messages_stored_total", "Messages written to lake files.", w.stored),
                ("duplicates_dropped_total", "Redeliveries dropped (same publisher, seq and body).", w.duplicates),
                ("conflicts_total", "Same publisher and seq with another body (kept under conflicts/).",
                 w.conflicts),
                ("quarantined_total", "Messages not their publisher's own data (kept under quarantine/).",
                 w.quarantined),
                ("errors_total", "Payloads that are no valid message (kept under errors/).", w.errors),
                ("cold_rule_failures_total", "Messages the cold-readings rule failed for.", w.cold_failures),
                ("files_written_total", "Files written (lake, errors, quarantine, conflicts).", w.files_written)):
            family = CounterMetricFamily(L + name.removesuffix("_total"), doc, labels=["group"])
            family.add_metric(g, value)
            yield family
        bytes_, age = w.buffer_state()
        for name, doc, value in (("buffer_bytes", "Bytes buffered, not yet in a lake file.", bytes_),
                                 ("buffer_age_seconds", "Age of the oldest buffered message (0: buffer empty).",
                                  age)):
            gauge = GaugeMetricFamily(L + name, doc, labels=["group"])
            gauge.add_metric(g, value)
            yield gauge
