"""`pipeline broker-metrics`: Mosquitto's `$SYS/#` topics as Prometheus metrics (BROKER_METRICS_PORT).

It connects with the `metrics` identity (METRICS_IDENTITY_DIR), which the ACL lets read `$SYS/#` and nothing
else, and keeps the latest value of each `$SYS` topic it knows (`SYS_METRICS`); each scrape reports those.
Mosquitto publishes them every `sys_interval` seconds (10 by default) and retains most, so a fresh subscription
has values at once. Counters are the broker's own totals since it started (they restart at 0 with the broker,
which Prometheus' rate() handles). `weather_fleet_broker_up` is 1 while the subscription is connected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from awscrt import mqtt5
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fleetcore.identity import METRICS_THING
from fleetcore.metrics import PREFIX, MetricsServer, serve_metrics
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client
from pipeline.errors import ConfigError, PipelineError
from pipeline.monitor import check_identity

log = logging.getLogger(__name__)

SYS_FILTER = "$SYS/#"
B = PREFIX + "broker_"


class Kind(Enum):
    COUNTER = "counter"
    GAUGE = "gauge"


@dataclass(frozen=True)
class SysMetric:
    name: str  # without PREFIX + "broker_"
    kind: Kind
    doc: str


# $SYS topic -> metric (mosquitto(8), "BROKER STATUS").
SYS_METRICS: dict[str, SysMetric] = {
    "$SYS/broker/clients/connected": SysMetric("clients_connected", Kind.GAUGE, "Clients connected now."),
    "$SYS/broker/clients/disconnected": SysMetric("clients_disconnected", Kind.GAUGE,
                                                  "Persistent clients disconnected now (sessions kept)."),
    "$SYS/broker/clients/total": SysMetric("clients", Kind.GAUGE, "Clients known (connected and disconnected)."),
    "$SYS/broker/clients/maximum": SysMetric("clients_maximum", Kind.GAUGE, "Most clients connected at once."),
    "$SYS/broker/messages/received": SysMetric("messages_received_total", Kind.COUNTER,
                                               "MQTT packets of any type received."),
    "$SYS/broker/messages/sent": SysMetric("messages_sent_total", Kind.COUNTER, "MQTT packets of any type sent."),
    "$SYS/broker/publish/messages/received": SysMetric("publish_received_total", Kind.COUNTER,
                                                       "PUBLISH packets received."),
    "$SYS/broker/publish/messages/sent": SysMetric("publish_sent_total", Kind.COUNTER, "PUBLISH packets sent."),
    "$SYS/broker/publish/messages/dropped": SysMetric("publish_dropped_total", Kind.COUNTER,
                                                      "PUBLISH packets dropped (queues full)."),
    "$SYS/broker/bytes/received": SysMetric("received_bytes_total", Kind.COUNTER, "Bytes received."),
    "$SYS/broker/bytes/sent": SysMetric("sent_bytes_total", Kind.COUNTER, "Bytes sent."),
    "$SYS/broker/messages/stored": SysMetric("messages_stored", Kind.GAUGE, "Messages held (retained and queued)."),
    "$SYS/broker/store/messages/bytes": SysMetric("stored_bytes", Kind.GAUGE, "Bytes of the messages held."),
    "$SYS/broker/subscriptions/count": SysMetric("subscriptions", Kind.GAUGE, "Subscriptions."),
    "$SYS/broker/retained messages/count": SysMetric("retained_messages", Kind.GAUGE, "Retained messages."),
    "$SYS/broker/uptime": SysMetric("uptime_seconds", Kind.GAUGE, "Seconds since the broker started."),
    "$SYS/broker/heap/current": SysMetric("heap_bytes", Kind.GAUGE, "Heap in use (when the broker reports it)."),
}


def parse_sys_value(topic: str, payload: bytes) -> float | None:
    """The number in a $SYS payload (`1234`, `0.57`, `3600 seconds`), or None when there is none."""
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


class SysValues(Collector):
    """The latest value of every known $SYS topic, reported as metrics at each scrape."""

    def __init__(self) -> None:
        self._values: dict[str, float] = {}
        self._lock = threading.Lock()
        self.connected = False
        self.updated_at = 0.0

    def update(self, topic: str, payload: bytes) -> None:
        if topic not in SYS_METRICS:
            return
        value = parse_sys_value(topic, payload)
        if value is not None:
            with self._lock:
                self._values[topic] = value
                self.updated_at = time.time()

    def value(self, topic: str) -> float | None:
        with self._lock:
            return self._values.get(topic)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(B + "up", "1 while the exporter's $SYS subscription is connected.")
        up.add_metric([], 1.0 if self.connected else 0.0)
        yield up
        updated = GaugeMetricFamily(B + "last_update_timestamp_seconds", "Unix time of the latest $SYS value.")
        updated.add_metric([], self.updated_at)
        yield updated
        with self._lock:
            values = dict(self._values)
        for topic, metric in SYS_METRICS.items():
            if topic not in values:
                continue
            if metric.kind is Kind.COUNTER:
                family: Metric = CounterMetricFamily(B + metric.name.removesuffix("_total"), metric.doc)
            else:
                family = GaugeMetricFamily(B + metric.name, metric.doc)
            family.add_metric([], values[topic])
            yield family


class BrokerExporter:
    """The $SYS subscription (client id `metrics`) feeding a `SysValues`, and its /metrics server."""

    def __init__(self, *, host: str, port: int, identity_dir: Path,
                 registry: CollectorRegistry | None = None) -> None:
        identity = check_identity(identity_dir)
        self.values = SysValues()
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.registry.register(self.values)
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._subscribed = None
        self.client = mtls_client(
            MqttOptions(host=host, port=port, client_id=METRICS_THING, identity=identity, session=Session.CLEAN,
                        min_reconnect_ms=500, max_reconnect_ms=10_000),
            Callbacks(on_publish=self._on_publish, on_success=self._on_connected,
                      on_failure=lambda data: log.warning("connection failed: %s", data.exception),
                      on_disconnect=self._on_disconnect, on_stopped=lambda data: self._stopped.set()))

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        self.values.update(data.publish_packet.topic, data.publish_packet.payload or b"")

    def _on_connected(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        self._subscribed = self.client.subscribe(mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=SYS_FILTER, qos=mqtt5.QoS.AT_MOST_ONCE)]))
        self.values.connected = True
        self._connected.set()

    def _on_disconnect(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self.values.connected = False
        self._connected.clear()
        log.warning("disconnected: %s", data.exception)

    def start(self, timeout: float = 30.0) -> None:
        """Connect and subscribe; PipelineError when the broker does not answer, ConfigError when the ACL refuses."""
        self.client.start()
        if not self._connected.wait(timeout):
            raise PipelineError("broker-metrics could not connect to the broker (check MQTT_HOST, MQTT_PORT, "
                                "METRICS_IDENTITY_DIR and the broker with `make up`)")
        assert self._subscribed is not None
        codes = [int(c) for c in self._subscribed.result(timeout).reason_codes]
        if any(c >= 0x80 for c in codes):
            raise ConfigError(f"subscription to {SYS_FILTER!r} refused (reason codes {codes}): the metrics identity "
                              "needs read access to $SYS/# in the broker ACL (`make register`, then `make up`)")
        log.info("subscribed to %s", SYS_FILTER)

    def serve(self, port: int) -> MetricsServer | None:
        return serve_metrics(self.registry, port, what="broker metrics")

    def stop(self, timeout: float = 10.0) -> None:
        self.client.stop()
        self._stopped.wait(timeout)
