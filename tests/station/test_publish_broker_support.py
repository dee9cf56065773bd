"""The test broker itself: mutual TLS works and the ACL is enforced (so the other publish tests can fail)."""

from __future__ import annotations

import json

from awscrt import mqtt5

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client

from tests.support.broker import MONITOR, TlsBroker
from tests.support.mqtt import Subscriber


def test_tls_round_trip_and_acl(tls_broker: TlsBroker) -> None:
    station = tls_broker.identity("support-check")
    monitor = tls_broker.identity(MONITOR)
    with Subscriber(tls_broker.host, tls_broker.port, monitor, topic="#", client_id="monitor-watch-support") as sub:
        import concurrent.futures

        connected: concurrent.futures.Future[None] = concurrent.futures.Future()
        client = mtls_client(
            MqttOptions(host=tls_broker.host, port=tls_broker.port, client_id=station.name, session=Session.CLEAN,
                        identity=IdentityFiles(station.certificate, station.private_key, station.ca)),
            Callbacks(on_success=lambda d: connected.set_result(None)),
        )
        client.start()
        try:
            connected.result(timeout=15)
            ok = client.publish(mqtt5.PublishPacket(topic="sensor/weather", payload=b'{"a":1}',
                                                    qos=mqtt5.QoS.AT_LEAST_ONCE)).result(10)
            denied = client.publish(mqtt5.PublishPacket(topic="other/topic", payload=b'{"a":2}',
                                                        qos=mqtt5.QoS.AT_LEAST_ONCE)).result(10)
        finally:
            client.stop()
        assert ok.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
        assert denied.puback.reason_code == mqtt5.PubackReasonCode.NOT_AUTHORIZED
        assert sub.wait_count(1, timeout=10)
        assert [json.loads(p) for p in sub.payloads] == [{"a": 1}]
