"""The observed side of a local pipeline for metrics tests: a lake writer (with LakeMetrics) and the broker exporter
connected to a real broker, each serving /metrics on 127.0.0.1, and the Prometheus configuration that scrapes
them (rendered by deploy.metrics.config) written to a folder the Prometheus container can read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleetcore.identity import LAKE_CLIENT_ID, METRICS_THING, MONITOR_THING
from fleetcore.metrics import MetricsServer
from pipeline.broker_metrics import BrokerExporter
from pipeline.lake import LakeWriter
from pipeline.lake_metrics import LakeMetrics
from pipeline.monitor import LakeSubscriber, serve
from deploy.metrics.config import render_prometheus_yml, render_rules_yml
from deploy.metrics.settings import PrometheusSettings
from tests.support.broker import TlsBroker


@dataclass
class ObservedLake:
    lake_dir: Path
    config_dir: Path
    lake_http: MetricsServer
    broker_http: MetricsServer


@contextmanager
def observed_lake(broker: TlsBroker, tmp_path: Path, settings: PrometheusSettings, *, stations: int,
                  buffer_seconds: float = 1.0) -> Iterator[ObservedLake]:
    metrics = LakeMetrics(LAKE_CLIENT_ID)
    writer = LakeWriter(tmp_path / "lake", buffer_seconds=buffer_seconds, metrics=metrics)
    subscriber = LakeSubscriber(writer, host=broker.host, port=broker.port, client_id=LAKE_CLIENT_ID,
                                identity_dir=broker.identity(MONITOR_THING, tmp_path / "monitor").directory)
    metrics.attach(writer, lambda: subscriber.received)
    stop = threading.Event()
    lake_thread = threading.Thread(target=serve, args=(writer, subscriber, stop), daemon=True)
    lake_thread.start()
    exporter = BrokerExporter(host=broker.host, port=broker.port,
                              identity_dir=broker.identity(METRICS_THING, tmp_path / "metrics").directory)
    exporter.start()
    lake_http = MetricsServer(metrics.registry, 0, host="127.0.0.1")
    broker_http = MetricsServer(exporter.registry, 0, host="127.0.0.1")
    config = tmp_path / "prometheus"
    config.mkdir()
    config.chmod(0o755)  # read by the container's prometheus user
    jobs = {"lake": [f"127.0.0.1:{lake_http.port}"], "broker": [f"127.0.0.1:{broker_http.port}"]}
    (config / "prometheus.yml").write_text(render_prometheus_yml(jobs, settings))
    (config / "rules.yml").write_text(render_rules_yml(stations, settings))
    for f in config.iterdir():
        f.chmod(0o644)
    try:
        yield ObservedLake(tmp_path / "lake", config, lake_http, broker_http)
    finally:
        stop.set()
        lake_thread.join(timeout=30)
        exporter.stop()
        lake_http.close()
        broker_http.close()
