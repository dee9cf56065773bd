"""Issue 23: the local broker refuses what AWS IoT Core refuses (docker/broker/mosquitto.conf, fleet_identity.c).

AWS IoT Core's message broker limits (https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-
limits): a PUBLISH payload of at most 128 KB, at most 100 publishes per second per connection. The real broker
image with the mosquitto.conf `make up` writes (deploy.broker_config; limits on by default) and mutual TLS: an
over-limit PUBLISH is answered with an MQTT5 refusal, and the monitor (the lake writer's identity) never receives
it. BROKER_MAX_PAYLOAD_BYTES / BROKER_MAX_PUBLISHES_PER_SECOND change the limits (0: off).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest
from awscrt import mqtt5

from deploy.settings import BrokerLimits
from fleetcore.aws_limits import IOT_MAX_PAYLOAD_BYTES, IOT_PUBLISHES_PER_SECOND_PER_CONNECTION
from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import Callbacks, MqttOptions, mtls_client
from tests.support.broker import TlsBroker, provisioned_acl, test_ca  # noqa: F401
from tests.support.certs import Identity, TestCA
from tests.support.mqtt import Subscriber

pytestmark = [pytest.mark.docker]

STATION = "weather-station-1"
TOPIC = "sensor/weather"
PACKET_TOO_LARGE = 0x95  # DISCONNECT reason code; mosquitto.conf max_packet_size
NOT_AUTHORIZED = 0x87  # the plugin's throttle answer (Mosquitto 2.0's plugin API has no 0x97 "quota exceeded")


@pytest.fixture(scope="module")
def broker(docker_engine: None, test_ca: TestCA,  # noqa: F811
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    defaults = BrokerLimits(_env_file=None)  # AWS's: the settings' defaults (tests/deploy/test_broker_config.py)
    with TlsBroker(tmp_path_factory.mktemp("limits-broker"), test_ca, acl=provisioned_acl([STATION], TOPIC),
                   max_payload_bytes=defaults.broker_max_payload_bytes,
                   max_publishes_per_second=defaults.broker_max_publishes_per_second) as b:
        yield b


@pytest.fixture(scope="module")
def ids(broker: TlsBroker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    folder = tmp_path_factory.mktemp("identities")
    return {name: broker.identity(name, folder / name) for name in (STATION, "monitor")}


class Publisher:
    def __init__(self, broker: TlsBroker, identity: Identity) -> None:
        self.connected = threading.Event()
        self.max_packet_size: int | None = None
        self.client = mtls_client(
            MqttOptions(host=broker.host, port=broker.port, client_id=identity.name,
                        identity=IdentityFiles(identity.certificate, identity.private_key, identity.ca)),
            Callbacks(on_success=self._on_success),
        )

    def _on_success(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        self.max_packet_size = data.connack_packet.maximum_packet_size
        self.connected.set()

    def __enter__(self) -> Publisher:
        self.client.start()
        assert self.connected.wait(15), "did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.stop()

    def send(self, payload: bytes):
        return self.client.publish(mqtt5.PublishPacket(topic=TOPIC, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE))


def body(seq: int, size: int = 0) -> bytes:
    doc = {"thing_name": STATION, "seq": seq, "pad": ""}
    raw = json.dumps(doc).encode()
    return json.dumps({**doc, "pad": "x" * max(0, size - len(raw))}).encode() if size else raw


def raw_publish(broker: TlsBroker, identity: Identity, payload: bytes) -> bytes:
    """A client that ignores the CONNACK's Maximum Packet Size: MQTT5 CONNECT, one QoS0 PUBLISH, then whatever
    the broker answers (b"" once it closed the connection)."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            n, digit = divmod(n, 128)
            out.append(digit | (128 if n else 0))
            if not n:
                return bytes(out)

    def utf8(text: str) -> bytes:
        return len(text).to_bytes(2, "big") + text.encode()

    context = ssl.create_default_context(cafile=str(identity.ca))
    context.load_cert_chain(str(identity.certificate), str(identity.private_key))
    with socket.create_connection((broker.host, broker.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=broker.host) as tls:
        connect = utf8("MQTT") + bytes([5, 0x02]) + (30).to_bytes(2, "big") + b"\x00" + utf8(identity.name)
        tls.sendall(b"\x10" + varint(len(connect)) + connect)
        connack = tls.recv(4096)
        assert connack[:1] == b"\x20" and connack[3] == 0, connack  # CONNACK, success
        publish = utf8(TOPIC) + b"\x00" + payload  # QoS0, no properties
        try:
            tls.sendall(b"\x30" + varint(len(publish)) + publish)
        except OSError:
            pass  # closed while we were still writing
        answer = b""
        try:
            while chunk := tls.recv(4096):
                answer += chunk
        except OSError:
            pass
        return answer


def test_a_200_kb_payload_is_refused_and_never_delivered(broker: TlsBroker, ids: dict[str, Identity]) -> None:
    """AWS "rejects publish and connect requests larger than" 128 KB. The broker announces 131,072 bytes as its
    Maximum Packet Size, awscrt (the station's client) refuses a larger PUBLISH itself, and a client that sends one
    anyway is disconnected with 0x95 "packet too large"; nothing of it reaches the monitor (the lake's reader)."""
    big = body(2, 200 * 1024)
    assert len(big) == 200 * 1024
    with Subscriber(broker.host, broker.port, ids["monitor"], TOPIC, client_id="monitor-watch-limits") as monitor:
        with Publisher(broker, ids[STATION]) as station:
            assert station.max_packet_size == IOT_MAX_PAYLOAD_BYTES
            below = body(1, IOT_MAX_PAYLOAD_BYTES - 1024)
            assert int(station.send(below).result(15).puback.reason_code) < 0x80  # just under 128 KB passes
            with pytest.raises(Exception, match="AWS_ERROR_MQTT5_PACKET_VALIDATION"):
                station.send(big).result(15)
        answer = raw_publish(broker, ids[STATION], big)
        assert answer[:1] == b"\xe0" and answer[2] == PACKET_TOO_LARGE, answer  # DISCONNECT 0x95
        assert monitor.wait_count(1, 15)
        assert monitor.wait_quiet(1.5) == 1
        assert [m["seq"] for m in monitor.messages()] == [1]


def test_300_publishes_in_one_second_are_throttled_to_100(broker: TlsBroker, ids: dict[str, Identity]) -> None:
    with Subscriber(broker.host, broker.port, ids["monitor"], TOPIC, client_id="monitor-watch-limits") as monitor, \
            Publisher(broker, ids[STATION]) as station:
        started = time.monotonic()
        futures = [station.send(body(seq)) for seq in range(300)]
        codes = [int(f.result(15).puback.reason_code) for f in futures]
        span = time.monotonic() - started
        accepted = [seq for seq, code in enumerate(codes) if code < 0x80]
        assert set(codes) <= {0, 0x10, NOT_AUTHORIZED}
        # at most 100 accepted in any one-second span: exactly 100 when all 300 went within one second
        assert len(accepted) <= IOT_PUBLISHES_PER_SECOND_PER_CONNECTION * (1 + int(span))
        if span < 1.0:
            assert len(accepted) == IOT_PUBLISHES_PER_SECOND_PER_CONNECTION, (span, len(accepted))
        assert accepted[:100] == list(range(100))  # the first hundred pass, the excess is refused
        assert monitor.wait_count(len(accepted), 15)
        assert monitor.wait_quiet(1.0) == len(accepted)
        assert sorted(m["seq"] for m in monitor.messages()) == accepted  # a refused one is never delivered
        time.sleep(1.1)  # a second later the connection may publish again
        assert int(station.send(body(1000)).result(15).puback.reason_code) < 0x80
    assert f"throttled PUBLISH from '{STATION}': over 100 publishes per second" in broker.logs()


@pytest.mark.parametrize(("payload_limit", "rate_limit", "accepted"), [(IOT_MAX_PAYLOAD_BYTES, 20, 20), (0, 0, 50)],
                         ids=["20-per-second", "off"])
def test_the_settings_change_the_limits(docker_engine: None, test_ca: TestCA,  # noqa: F811
                                        tmp_path_factory: pytest.TempPathFactory, payload_limit: int,
                                        rate_limit: int, accepted: int) -> None:
    """BROKER_MAX_PUBLISHES_PER_SECOND=20: of 50 publishes sent at once, exactly the first 20 pass; both limits 0:
    all 50 pass, and so does a 200 KB payload (no Maximum Packet Size announced)."""
    with TlsBroker(tmp_path_factory.mktemp("configured-broker"), test_ca, acl=provisioned_acl([STATION], TOPIC),
                   max_payload_bytes=payload_limit, max_publishes_per_second=rate_limit) as broker:
        folder = tmp_path_factory.mktemp("configured-ids")
        ids = {name: broker.identity(name, folder / name) for name in (STATION, "monitor")}
        with Subscriber(broker.host, broker.port, ids["monitor"], TOPIC, client_id="monitor-watch-limits") as monitor, \
                Publisher(broker, ids[STATION]) as station:
            assert station.max_packet_size == (payload_limit or None)
            started = time.monotonic()
            futures = [station.send(body(seq)) for seq in range(50)]
            codes = [int(f.result(15).puback.reason_code) for f in futures]
            span = time.monotonic() - started
            passed = [seq for seq, code in enumerate(codes) if code < 0x80]
            assert span < 1.0, span  # all 50 within one second: the count below is exact
            assert passed == list(range(accepted))
            assert set(codes[accepted:]) <= {NOT_AUTHORIZED}
            if not payload_limit:
                assert int(station.send(body(50, 200 * 1024)).result(15).puback.reason_code) < 0x80
                passed.append(50)
            assert monitor.wait_count(len(passed), 15)
            assert monitor.wait_quiet(1.0) == len(passed)
            assert sorted(m["seq"] for m in monitor.messages()) == passed
