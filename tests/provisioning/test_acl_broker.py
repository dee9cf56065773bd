"""provisioning's real ACL on a real Mosquitto: the monitor's read access follows TOPIC (issue 9).

The broker runs the project's mosquitto.conf with certificates from provisioning's CA code and the ACL
`make register` renders (`render_acl`), for a fleet whose TOPIC is not the default.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.identity import LAKE_CLIENT_ID, MONITOR_THING, watch_client_id
from fleetcore.topic import monitor_filter
from provisioning.mqtt import IdentityClient
from tests.support.broker import TlsBroker, provisioned_acl
from tests.support.certs import TestCA

pytestmark = [pytest.mark.docker]

TOPIC = "other/topic"
STATION = "ws-other-1"
GRANTED_QOS_1 = 1
NOT_AUTHORIZED = 0x87


@pytest.fixture(scope="module")
def broker(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    workdir = tmp_path_factory.mktemp("acl-broker")
    with TlsBroker(workdir, TestCA(workdir / "pki"), acl=provisioned_acl([STATION], TOPIC)) as b:
        yield b


def _client(broker: TlsBroker, name: str, tmp_path: Path, client_id: str) -> IdentityClient:
    identity = broker.identity(name, tmp_path / name)
    return IdentityClient(identity.directory, broker.host, broker.port, client_id=client_id)


def test_monitor_reads_a_non_default_topic(broker: TlsBroker, tmp_path: Path) -> None:
    """Regression: the ACL let the monitor read sensor/# only, so TOPIC=other/topic starved the lake writer
    (which subscribes to TOPIC) and `make watch` (which subscribes to TOPIC and below)."""
    with _client(broker, MONITOR_THING, tmp_path, LAKE_CLIENT_ID) as lake, \
            _client(broker, MONITOR_THING, tmp_path, watch_client_id()) as watch, \
            _client(broker, STATION, tmp_path, STATION) as station:
        for client in (lake, watch, station):
            assert client.wait_connected(15), client.connect_error
        # Mosquitto grants a subscription and applies `topic read` on delivery: what arrives is the test.
        assert [int(c) for c in lake.subscribe(TOPIC)] == [GRANTED_QOS_1]
        assert [int(c) for c in watch.subscribe(monitor_filter(TOPIC))] == [GRANTED_QOS_1]
        assert int(station.publish(TOPIC, b'{"seq": 1}')) == 0  # SUCCESS
        assert int(station.publish("sensor/weather", b'{"seq": 2}')) == NOT_AUTHORIZED
        for client in (lake, watch):
            received = client.messages.get(timeout=10)
            assert (received.topic, received.payload) == (TOPIC, b'{"seq": 1}')
            assert client.messages.empty()


def test_metrics_identity_reads_sys_and_nothing_else(broker: TlsBroker, tmp_path: Path) -> None:
    """The broker exporter's identity (`metrics`): $SYS/# is delivered to it, the fleet's TOPIC is not, and it
    may not publish."""
    from fleetcore.identity import METRICS_THING

    with _client(broker, METRICS_THING, tmp_path, METRICS_THING) as metrics, \
            _client(broker, STATION, tmp_path, STATION) as station:
        for client in (metrics, station):
            assert client.wait_connected(15), client.connect_error
        assert [int(c) for c in metrics.subscribe("$SYS/#")] == [GRANTED_QOS_1]
        first = metrics.messages.get(timeout=20)
        assert first.topic.startswith("$SYS/broker/")
        assert [int(c) for c in metrics.subscribe(TOPIC)] == [GRANTED_QOS_1]
        while not metrics.messages.empty():
            metrics.messages.get_nowait()
        assert int(station.publish(TOPIC, b'{"seq": 3}')) == 0
        assert int(metrics.publish(TOPIC, b'{"seq": 4}')) == NOT_AUTHORIZED
        import time
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not metrics.messages.empty():
                assert metrics.messages.get_nowait().topic.startswith("$SYS/"), "metrics read the fleet's TOPIC"
            time.sleep(0.1)
