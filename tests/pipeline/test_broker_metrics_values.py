"""The broker exporter's $SYS values (pipeline/broker_metrics.py), without a broker."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from pipeline.broker_metrics import SysValues, parse_sys_value


def test_parse_sys_values() -> None:
    assert parse_sys_value("$SYS/broker/clients/connected", b"12") == 12
    assert parse_sys_value("$SYS/broker/uptime", b"3600 seconds") == 3600
    assert parse_sys_value("$SYS/broker/load/bytes/received/1min", b"0.57") == 0.57
    assert parse_sys_value("$SYS/broker/version", b"mosquitto version 2.0.11") is None
    assert parse_sys_value("$SYS/broker/clients/connected", b"") is None


def test_collector_reports_known_topics_with_types() -> None:
    values = SysValues()
    registry = CollectorRegistry()
    registry.register(values)
    values.update("$SYS/broker/clients/connected", b"7")
    values.update("$SYS/broker/publish/messages/received", b"1500")
    values.update("$SYS/broker/bytes/sent", b"99")
    values.update("$SYS/broker/version", b"mosquitto version 2.0.11")  # unknown: ignored
    values.connected = True
    get = registry.get_sample_value
    assert get("weather_fleet_broker_clients_connected") == 7
    assert get("weather_fleet_broker_publish_received_total") == 1500
    assert get("weather_fleet_broker_sent_bytes_total") == 99
    assert get("weather_fleet_broker_up") == 1
    assert get("weather_fleet_broker_messages_received_total") is None  # not seen yet: not reported
    text = generate_latest(registry).decode()
    assert "# TYPE weather_fleet_broker_publish_received_total counter" in text
    assert "# TYPE weather_fleet_broker_clients_connected gauge" in text
    assert "version" not in text
