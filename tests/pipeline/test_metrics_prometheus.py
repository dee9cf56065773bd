"""Against the real broker: a real Prometheus, started by the test, scrapes the lake writer and the broker exporter
(`pipeline broker-metrics`); PromQL returns the totals the test published, the recording rules evaluate, the
generated files pass promtool, and FleetTargetDown fires when a target is stopped.

A group's metrics scraped with the lake writer's: tests/station/test_metrics_prometheus_group.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from deploy.metrics.settings import PrometheusSettings
from tests.support.publisher import publish_all
from tests.support.synthetic import message
from tests.support.broker import TlsBroker, free_port, provisioned_acl
from tests.support.certs import TestCA
from tests.support.observed_lake import observed_lake
from tests.support.prometheus import Prometheus, prometheus_image

pytestmark = [pytest.mark.docker, pytest.mark.slow]

STATION = "ws-metrics-1"
MESSAGES = 50


@pytest.fixture(scope="module")
def broker(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    workdir = tmp_path_factory.mktemp("metrics-broker")
    with TlsBroker(workdir, TestCA(workdir / "pki"), acl=provisioned_acl([STATION])) as b:
        yield b


def payloads() -> list[bytes]:
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    return [json.dumps({**message(STATION, seq, -3.0 + seq), "sent_at": now}).encode() for seq in range(MESSAGES)]


def test_prometheus_scrapes_lake_and_broker_and_alerts_on_a_stopped_target(broker: TlsBroker,
                                                                           tmp_path: Path) -> None:
    settings = PrometheusSettings(PROMETHEUS_SCRAPE_INTERVAL=1, PROMETHEUS_ALERT_FOR=2)
    with observed_lake(broker, tmp_path, settings, stations=1) as observed:
        config = observed.config_dir
        checked = subprocess.run(["docker", "run", "--rm", "--entrypoint", "promtool", "-v",
                                  f"{config}:/etc/prometheus/fleet:ro", prometheus_image(), "check", "config",
                                  "/etc/prometheus/fleet/prometheus.yml"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        publish_all(broker.host, broker.port, broker.identity(STATION, tmp_path / "station"), payloads())
        with Prometheus(config, free_port()) as prom:
            stored = prom.wait_for("sum(weather_fleet_lake_messages_stored_total)",
                                   lambda r: r and r[0][1] >= MESSAGES)
            assert stored[0][1] == MESSAGES
            assert prom.query('weather_fleet_lake_e2e_latency_seconds_count')[0][1] == MESSAGES
            assert prom.query("weather_fleet_lake_duplicates_dropped_total")[0][1] == 0
            # Mosquitto publishes $SYS every 10 s: the broker counted exactly what the station sent.
            received = prom.wait_for("weather_fleet_broker_publish_received_total",
                                     lambda r: r and r[0][1] >= MESSAGES)
            assert received[0][1] == MESSAGES
            # lake writer + exporter (+ the broker's own healthcheck when it ran) are connected.
            assert prom.query("weather_fleet_broker_clients_connected")[0][1] >= 2
            assert {m["job"]: v for m, v in prom.query("up")} == {"lake": 1.0, "broker": 1.0}
            prom.wait_for("fleet:registered_stations", lambda r: r and r[0][1] == 1)
            prom.wait_for("fleet:lake_stored:rate1m", lambda r: bool(r))
            assert not [a for a in prom.firing_alerts() if a["labels"]["alertname"] == "FleetTargetDown"]
            observed.broker_http.close()  # the exporter's target stops answering
            deadline_result = prom.wait_for('ALERTS{alertname="FleetTargetDown", alertstate="firing"}',
                                            lambda r: bool(r), timeout=30)
            assert [m["job"] for m, _ in deadline_result] == ["broker"]
            assert [a["labels"]["job"] for a in prom.firing_alerts()
                    if a["labels"]["alertname"] == "FleetTargetDown"] == ["broker"]
