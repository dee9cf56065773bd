"""MQTT over port 443 for TARGET=aws (campus networks often block 8883): the one MQTT builder (fleetcore.mqtt)
passes the port to the SDK builder, which sets the TLS ALPN `x-amzn-mqtt-ca` for port 443, as AWS IoT Core
requires for MQTT with X.509 client certificates on 443
(https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html); compose passes STATIONS_MQTT_PORT."""

from __future__ import annotations

from pathlib import Path

import awscrt.io
import pytest
import yaml

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import MqttOptions, mtls_client
from tests.support.certs import TestCA

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured_tls(monkeypatch: pytest.MonkeyPatch) -> list[awscrt.io.TlsContextOptions]:
    """Every TLS context options object the SDK builder turns into a context (the real context is still made)."""
    seen: list[awscrt.io.TlsContextOptions] = []
    real = awscrt.io.ClientTlsContext

    def capture(options):
        seen.append(options)
        return real(options)

    monkeypatch.setattr(awscrt.io, "ClientTlsContext", capture)
    return seen


@pytest.mark.parametrize(("port", "alpn"), [(443, ["x-amzn-mqtt-ca"]), (8883, None)])
def test_port_443_gets_the_aws_iot_alpn(tmp_path: Path, captured_tls, port: int, alpn) -> None:
    if not awscrt.io.is_alpn_available():
        pytest.skip("this platform's TLS has no ALPN")
    identity = TestCA(tmp_path / "ca").issue_client("weather-station-1", tmp_path / "id")
    files = IdentityFiles.in_folder(identity.directory)
    client = mtls_client(MqttOptions(host="abc-ats.iot.us-east-1.amazonaws.com", port=port,
                                     client_id="weather-station-1", identity=files))
    assert client is not None
    (options,) = captured_tls
    assert options.alpn_list == alpn


def test_compose_passes_the_stations_port() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert compose["x-station-env"]["MQTT_PORT"] == "${STATIONS_MQTT_PORT:-8883}"
    from deploy.compose_stations import station_service

    assert station_service(6, "weather-station-6", "x")["environment"]["MQTT_PORT"] == "${STATIONS_MQTT_PORT:-8883}"
    example = (REPO / ".env.example").read_text()
    assert "STATIONS_MQTT_PORT=" in example
