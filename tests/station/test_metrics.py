"""Station metrics (station/metrics.py): names, labels and values against known counts, and the HTTP exposition."""

from __future__ import annotations

import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from station.errors import ConfigError
from station.metrics import StationMetrics
from station.settings import ReplayFields, load_settings
from station.status import State


def sample(metrics: StationMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_publish_100_ack_97_fail_3_counts_and_in_flight() -> None:
    m = StationMetrics("group-1")
    a, b = m.station("weather-station-1"), m.station("weather-station-2")
    for _ in range(60):
        a.published()
    b.published(40)
    a.acked(60)
    b.acked(37)
    b.failed(3)
    assert sample(m, "weather_fleet_messages_published_total", group="group-1") == 100
    assert sample(m, "weather_fleet_messages_acked_total", group="group-1") == 97
    assert sample(m, "weather_fleet_messages_failed_total", group="group-1") == 3
    assert sample(m, "weather_fleet_messages_in_flight", group="group-1") == 0
    b.published(5)
    assert sample(m, "weather_fleet_messages_in_flight", group="group-1") == 5
    assert sample(m, "weather_fleet_last_publish_timestamp_seconds", group="group-1") > 1.7e9


def test_connections_reconnects_and_failures() -> None:
    m = StationMetrics("station-1")
    h = m.station("weather-station-1")
    h.connect_failed()
    h.connect_failed()
    h.connected()
    h.connected(reconnect=True)
    assert sample(m, "weather_fleet_connects_total", group="station-1") == 2
    assert sample(m, "weather_fleet_reconnects_total", group="station-1") == 1
    assert sample(m, "weather_fleet_connect_failures_total", group="station-1") == 2


def test_each_station_counted_in_exactly_one_state() -> None:
    m = StationMetrics("group-2")
    handles = [m.station(f"s-{i}") for i in range(10)]
    for h in handles:
        h.state(State.STARTING)
    for h in handles[:7]:
        h.state(State.PUBLISHING)
    handles[0].state(State.PUBLISHING)  # no change
    handles[1].state(State.FINISHED)
    handles[2].state("failed")  # a plain value is accepted too
    assert sample(m, "weather_fleet_stations", group="group-2", state="starting") == 3
    assert sample(m, "weather_fleet_stations", group="group-2", state="publishing") == 5
    assert sample(m, "weather_fleet_stations", group="group-2", state="finished") == 1
    assert sample(m, "weather_fleet_stations", group="group-2", state="failed") == 1


def test_lateness_histogram_and_faults_by_kind() -> None:
    m = StationMetrics("group-1")
    h = m.station("s-1")
    for seconds in (0.0005, 0.002, 0.2, 3.0, -1.0):
        h.late(seconds)
    assert sample(m, "weather_fleet_schedule_lateness_seconds_count", group="group-1") == 5
    assert sample(m, "weather_fleet_schedule_lateness_seconds_bucket", group="group-1", le="0.001") == 2
    assert sample(m, "weather_fleet_schedule_lateness_seconds_bucket", group="group-1", le="0.5") == 4
    assert sample(m, "weather_fleet_schedule_lateness_seconds_sum", group="group-1") == pytest.approx(3.2025)
    h.fault("disconnect")
    h.fault("disconnect")
    h.fault("slow-ack", 3)
    assert sample(m, "weather_fleet_faults_injected_total", group="group-1", kind="disconnect") == 2
    assert sample(m, "weather_fleet_faults_injected_total", group="group-1", kind="slow-ack") == 3


def test_station_label_only_when_opted_in() -> None:
    grouped = StationMetrics("group-1")
    grouped.station("s-1").published(2)
    grouped.station("s-2").published(3)
    assert sample(grouped, "weather_fleet_messages_published_total", group="group-1") == 5
    assert sample(grouped, "weather_fleet_messages_published_total", group="group-1", station="s-1") is None
    per = StationMetrics("group-1", per_station=True)
    per.station("s-1").published(2)
    per.station("s-2").published(3)
    assert sample(per, "weather_fleet_messages_published_total", group="group-1", station="s-1") == 2
    assert sample(per, "weather_fleet_messages_published_total", group="group-1", station="s-2") == 3


def test_concurrent_publishers_lose_no_count() -> None:
    m = StationMetrics("group-1")

    def run(i: int) -> None:
        h = m.station(f"s-{i}")
        for _ in range(1000):
            h.published()
            h.acked()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sample(m, "weather_fleet_messages_acked_total", group="group-1") == 8000
    assert sample(m, "weather_fleet_messages_in_flight", group="group-1") == 0


def test_served_over_http_in_the_text_format() -> None:
    m = StationMetrics("group-7")
    h = m.station("s-1")
    h.published(100)
    h.acked(100)
    from fleetcore.metrics import MetricsServer
    server = MetricsServer(m.registry, 0, host="127.0.0.1")
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5).read().decode()
    finally:
        server.close()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["weather_fleet_messages_published"].type == "counter"
    assert [(s.name, s.labels, s.value) for s in families["weather_fleet_messages_acked"].samples
            if s.name.endswith("_total")] == [("weather_fleet_messages_acked_total", {"group": "group-7"}, 100.0)]
    assert families["weather_fleet_schedule_lateness_seconds"].type == "histogram"
    assert all(name.startswith("weather_fleet_") for name in families)


def test_settings_port_and_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_PORT", "9200")
    monkeypatch.setenv("METRICS_PER_STATION", "true")
    s = load_settings(ReplayFields)
    assert (s.metrics_port, s.metrics_per_station) == (9200, True)
    monkeypatch.setenv("METRICS_PORT", "70000")
    with pytest.raises(ConfigError, match="METRICS_PORT"):
        load_settings(ReplayFields)


def test_port_zero_serves_nothing() -> None:
    assert StationMetrics("g").serve(0) is None


def test_no_created_series() -> None:
    from prometheus_client import generate_latest
    m = StationMetrics("g")
    m.station("s").published()
    assert "_created" not in generate_latest(m.registry).decode()
