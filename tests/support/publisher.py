"""Publishes prepared payloads at QoS1 for a station identity and waits for every PUBACK (awscrt MQTT5)."""

from __future__ import annotations

from awscrt import mqtt5

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client

from tests.support.certs import Identity


def publish_all(host: str, port: int, identity: Identity, payloads: list[bytes], topic: str = "sensor/weather",
                timeout: float = 60.0) -> None:
    """Connect as `identity`, publish every payload at QoS1, fail unless each one is acknowledged."""
    connected: list[bool] = []
    client = mtls_client(
        MqttOptions(host=host, port=port, client_id=identity.name, session=Session.CLEAN,
                    identity=IdentityFiles(identity.certificate, identity.private_key, identity.ca)),
        Callbacks(on_success=lambda data: connected.append(True)),
    )
    client.start()
    try:
        futures = [client.publish(mqtt5.PublishPacket(payload=p, qos=mqtt5.QoS.AT_LEAST_ONCE, topic=topic))
                   for p in payloads]
        for future in futures:
            result = future.result(timeout)
            code = result.puback.reason_code
            assert code in (mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS), code
    finally:
        client.stop()
