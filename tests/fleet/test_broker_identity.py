"""Issue 10: identity bound at the broker, and the lake stores the authenticated publisher.

A real Mosquitto (the repository's broker image and mosquitto.conf, with the fleet_identity plugin) with mutual
TLS and the ACL provisioning writes. Each test here fails on a broker without the plugin or a lake writer that
trusts the payload's `thing_name`:
- takeover: a certificate cannot connect under another thing's (or the monitor's) client id; the victim stays;
- the monitor identity may use only its documented client ids; the lake writer's and a viewer's differ;
- a PUBLISH carries the broker's `fleet-publisher` stamp, and a client cannot forge it;
- forged payload: station-1 publishing station-2's seq is quarantined, station-2's genuine message is stored;
- conflict: the same publisher and seq with another body is kept apart and counted.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from awscrt import mqtt5
from pydantic import ValidationError

from fleetcore.identity import LAKE_CLIENT_ID, IdentityFiles, default_client_id, watch_client_id
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client
from pipeline.lake import LakeWriter, lake_files
from pipeline.monitor import PUBLISHER_PROPERTY, LakeSubscriber
from pipeline.settings import PipelineSettings
from provisioning.mqtt import IdentityClient
from tests.conftest import require
from tests.support.synthetic import message
from tests.support.broker import TlsBroker, provisioned_acl, test_ca  # noqa: F401
from tests.support.certs import Identity, TestCA

pytestmark = [pytest.mark.docker]

STATIONS = ["weather-station-1", "weather-station-2"]
TOPIC = "sensor/weather"
NOT_AUTHORIZED = 0x87


@pytest.fixture(scope="module")
def broker(docker_engine: None, test_ca: TestCA,  # noqa: F811
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """The broker with the ACL `make register` writes for two stations and the monitor."""
    with TlsBroker(tmp_path_factory.mktemp("identity-broker"), test_ca, acl=provisioned_acl(STATIONS, TOPIC)) as b:
        yield b


@pytest.fixture(scope="module")
def ids(broker: TlsBroker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    folder = tmp_path_factory.mktemp("identities")
    return {name: broker.identity(name, folder / name) for name in [*STATIONS, "monitor"]}


class Station:
    """A connected client that records every disconnection (a takeover shows up as one)."""

    def __init__(self, broker: TlsBroker, identity: Identity, client_id: str | None = None) -> None:
        self.connected = threading.Event()
        self.disconnects: list[str] = []
        self.client = mtls_client(
            MqttOptions(host=broker.host, port=broker.port, client_id=client_id or identity.name,
                        session=Session.PERSISTENT, session_expiry=600,
                        identity=IdentityFiles(identity.certificate, identity.private_key, identity.ca)),
            Callbacks(on_success=lambda _d: self.connected.set(),
                      on_disconnect=lambda d: self.disconnects.append(str(d.exception))),
        )

    def __enter__(self) -> Station:
        self.client.start()
        assert self.connected.wait(15), "station did not connect"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.stop()

    def publish(self, payload: bytes, properties: list[mqtt5.UserProperty] | None = None) -> int:
        packet = mqtt5.PublishPacket(topic=TOPIC, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE,
                                     user_properties=properties)
        return int(self.client.publish(packet).result(15).puback.reason_code)


def refused(broker: TlsBroker, identity: Identity, client_id: str) -> bool:
    """True when the broker refuses `identity` connecting as `client_id` with CONNACK 'not authorized'."""
    client = IdentityClient(identity.directory, broker.host, broker.port, client_id=client_id)
    with client:
        if client.wait_connected(10):
            return False
    return "NOT_AUTHORIZED" in (client.connect_error or "")


# --- identity bound at CONNECT --------------------------------------------------------------------------------

def test_a_certificate_cannot_take_over_another_client_id(broker: TlsBroker, ids: dict[str, Identity]) -> None:
    with Station(broker, ids["weather-station-2"]) as victim:
        assert refused(broker, ids["weather-station-1"], "weather-station-2")
        assert refused(broker, ids["weather-station-1"], LAKE_CLIENT_ID)
        assert refused(broker, ids["weather-station-1"], "weather-station-1-probe")
        time.sleep(0.5)
        assert victim.disconnects == [], victim.disconnects
        assert victim.publish(json.dumps(message("weather-station-2", 1, 1.0)).encode()) < 0x80
        # A configuration reload (SIGHUP, `make broker-reload`) authenticates everyone again: nobody is dropped.
        broker._wrapped().kill(signal="SIGHUP")
        time.sleep(1.0)
        assert victim.disconnects == [], victim.disconnects
    assert "refused client id 'weather-station-2' for certificate CN 'weather-station-1'" in broker.logs()


def test_the_username_is_the_certificate_cn_whatever_the_client_sends(broker: TlsBroker,
                                                                      ids: dict[str, Identity]) -> None:
    """station-1 sending the username `monitor` still gets station-1's ACL: it reads nothing of sensor/#."""
    if shutil.which("mosquitto_sub") is None:
        require("REQUIRE_DOCKER", "mosquitto_sub (package mosquitto-clients) is needed to send a username")
    ident = ids["weather-station-1"]
    sub = subprocess.Popen(
        ["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "--cafile", str(ident.ca),
         "--cert", str(ident.certificate), "--key", str(ident.private_key), "-i", ident.name, "-u", "monitor",
         "-V", "mqttv5", "-t", "sensor/#", "-C", "1", "-W", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    with Station(broker, ids["weather-station-2"]) as station:
        assert station.publish(json.dumps(message("weather-station-2", 2, 1.0)).encode()) < 0x80
    out, err = sub.communicate(timeout=15)
    assert out == "" and "Timed out" in err, (out, err)
    assert f"as {ident.name} (p5, c1, k60, u'{ident.name}')" in broker.logs()


def test_the_monitor_may_use_only_its_documented_client_ids(broker: TlsBroker, ids: dict[str, Identity]) -> None:
    monitor = ids["monitor"]
    for client_id in ("monitor", "monitor-other", "monitor-watch-", "monitor-lake-", "weather-station-1"):
        assert refused(broker, monitor, client_id), client_id
    for client_id in (LAKE_CLIENT_ID, f"{LAKE_CLIENT_ID}-second-lake", watch_client_id()):
        assert not refused(broker, monitor, client_id), client_id
    # The lake writer and every viewer (`make watch`) have distinct ids: neither takes the other's session.
    viewers = {default_client_id("monitor") for _ in range(3)}
    assert len(viewers) == 3 and LAKE_CLIENT_ID not in viewers
    assert all(v.startswith("monitor-watch-") for v in viewers)
    with pytest.raises(ValidationError, match="LAKE_CLIENT_ID"):
        PipelineSettings(LAKE_CLIENT_ID="monitor-watch-1")


def test_every_publish_is_stamped_and_the_stamp_cannot_be_forged(broker: TlsBroker, ids: dict[str, Identity]) -> None:
    received: list[mqtt5.PublishPacket] = []
    got = threading.Event()

    def on_publish(data: mqtt5.PublishReceivedData) -> None:
        received.append(data.publish_packet)
        got.set()

    monitor = ids["monitor"]
    viewer = mtls_client(
        MqttOptions(host=broker.host, port=broker.port, client_id=watch_client_id(), session=Session.CLEAN,
                    identity=IdentityFiles(monitor.certificate, monitor.private_key, monitor.ca)),
        Callbacks(on_publish=on_publish))
    viewer.start()
    try:
        viewer.subscribe(mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=TOPIC, qos=mqtt5.QoS.AT_LEAST_ONCE)])).result(15)
        with Station(broker, ids["weather-station-1"]) as station:
            forged = [mqtt5.UserProperty(PUBLISHER_PROPERTY, "weather-station-2")]
            assert station.publish(b'{"forged": 1}', forged) == NOT_AUTHORIZED
            assert station.publish(b'{"genuine": 1}') < 0x80
        assert got.wait(10)
        time.sleep(0.3)
    finally:
        viewer.stop()
    assert [p.payload for p in received] == [b'{"genuine": 1}']
    stamps = [(u.name, u.value) for u in received[0].user_properties or [] if u.name == PUBLISHER_PROPERTY]
    assert stamps == [(PUBLISHER_PROPERTY, "weather-station-1")]


# --- the lake stores the authenticated publisher ----------------------------------------------------------------

def lake_records(lake_dir: Path, folder: str = "") -> list[dict]:
    root = lake_dir / folder / "sensor" / "weather" if folder else lake_dir / "sensor" / "weather"
    paths = lake_files(root) if not folder else sorted(root.rglob("*.gz"))
    records: list[dict] = []
    for path in paths:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            records += [json.loads(line) for line in fh]
    return records


@pytest.fixture()
def lake(broker: TlsBroker, ids: dict[str, Identity], tmp_path: Path) -> Iterator[LakeWriter]:
    """A lake writer subscribed through the broker as the monitor (its own monitor-lake-<suffix> session)."""
    writer = LakeWriter(tmp_path / "lake", buffer_seconds=0.2)
    subscriber = LakeSubscriber(writer, host=broker.host, port=broker.port, identity_dir=ids["monitor"].directory,
                                client_id=f"{LAKE_CLIENT_ID}-{uuid.uuid4().hex[:8]}", topic=TOPIC,
                                session_expiry_seconds=0)
    subscriber.start()
    stop = threading.Event()
    timer = threading.Thread(target=writer.run_timer, args=(stop,), daemon=True)
    timer.start()
    writer.subscriber = subscriber  # type: ignore[attr-defined]
    try:
        yield writer
    finally:
        stop.set()
        subscriber.stop()
        timer.join(5)
        writer.close()


def wait_until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_forged_payload_is_quarantined_and_the_genuine_message_stored(
        broker: TlsBroker, ids: dict[str, Identity], lake: LakeWriter) -> None:
    forged = {**message("weather-station-2", 11558, 99.0), "weather_station": "FORGED"}
    genuine = message("weather-station-2", 11558, 4.0)
    with Station(broker, ids["weather-station-1"]) as intruder:
        assert intruder.publish(json.dumps(forged).encode()) < 0x80  # the ACL lets station-1 publish here
    with Station(broker, ids["weather-station-2"]) as station:
        assert station.publish(json.dumps(genuine).encode()) < 0x80
    wait_until(lambda: lake.subscriber.received == 2)  # type: ignore[attr-defined]
    lake.flush()
    stored = lake_records(lake.lake_dir)
    assert [(r["thing_name"], r["seq"], r["weather_station"], r["publisher"]) for r in stored] == [
        ("weather-station-2", 11558, genuine["weather_station"], "weather-station-2")]
    [kept] = lake_records(lake.lake_dir, "quarantine")
    assert kept["publisher"] == "weather-station-1" and json.loads(kept["raw"])["weather_station"] == "FORGED"
    assert lake.quarantined == 1 and lake.duplicates == 0


def test_the_same_seq_with_another_body_is_a_conflict_kept_and_counted(
        broker: TlsBroker, ids: dict[str, Identity], lake: LakeWriter) -> None:
    first, second = message("weather-station-1", 7, 1.0), message("weather-station-1", 7, 6.0)
    with Station(broker, ids["weather-station-1"]) as station:
        assert station.publish(json.dumps(first).encode()) < 0x80
        wait_until(lambda: lake.subscriber.received == 1)  # type: ignore[attr-defined]
        lake.flush()
        assert station.publish(json.dumps(second).encode()) < 0x80
        assert station.publish(json.dumps(first).encode()) < 0x80  # a plain resend: dropped as a duplicate
    wait_until(lambda: lake.subscriber.received == 3)  # type: ignore[attr-defined]
    lake.flush()
    stored = lake_records(lake.lake_dir)
    assert [(r["seq"], r["air_temperature"]["value"]) for r in stored] == [(7, 1.0)]
    [conflict] = lake_records(lake.lake_dir, "conflicts")
    assert conflict["publisher"] == "weather-station-1" and conflict["seq"] == 7
    assert json.loads(conflict["raw"])["air_temperature"]["value"] == 6.0
    assert (lake.conflicts, lake.duplicates) == (1, 1)
