"""A test subscriber on awscrt's MQTT5 client: connects with an identity and collects every PUBLISH it gets.

Uses a persistent session (clean start false, session expiry) so QoS1 messages published while it was cut off by
a broker restart are delivered when it reconnects.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future
from typing import Any

from awscrt import mqtt5

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import Callbacks, MqttOptions, mtls_client

from testbed.certs import Identity


class Subscriber:
    """Collects payloads from `topic` (QoS1) on the broker at host:port."""

    def __init__(self, host: str, port: int, identity: Identity, topic: str = "sensor/weather",
                 client_id: str | None = None) -> None:
        self.topic = topic
        self.payloads: list[bytes] = []
        self.arrivals: list[float] = []  # time.monotonic() of each payload's arrival
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._connected: Future[None] = Future()
        self.client = mtls_client(
            MqttOptions(host=host, port=port, client_id=client_id or identity.name,
                        identity=IdentityFiles(identity.certificate, identity.private_key, identity.ca),
                        min_reconnect_ms=200, max_reconnect_ms=1000),
            Callbacks(on_publish=self._on_publish, on_success=self._on_success),
        )

    def _on_success(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        if not self._connected.done():
            self._connected.set_result(None)

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        with self._arrived:
            self.payloads.append(bytes(data.publish_packet.payload))
            self.arrivals.append(time.monotonic())
            self._arrived.notify_all()

    def __enter__(self) -> Subscriber:
        self.client.start()
        self._connected.result(timeout=15)
        suback = self.client.subscribe(
            mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(self.topic, mqtt5.QoS.AT_LEAST_ONCE)])
        ).result(timeout=15)
        codes = list(suback.reason_codes)
        if codes != [mqtt5.SubackReasonCode.GRANTED_QOS_1]:
            raise RuntimeError(f"subscription to {self.topic} refused: {codes}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.stop()

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for p in self.payloads]

    def count(self) -> int:
        with self._lock:
            return len(self.payloads)

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        """Wait until `predicate(payloads)` is true; return whether it became true in time."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not predicate(self.payloads):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._arrived.wait(remaining)
            return True

    def wait_count(self, n: int, timeout: float = 30.0) -> bool:
        return self.wait_for(lambda p: len(p) >= n, timeout)

    def wait_quiet(self, quiet: float = 1.5, timeout: float = 30.0) -> int:
        """The number of messages once none has arrived for `quiet` seconds: what a killed publisher had handed
        the broker is still on its way here for a moment after the kill."""
        deadline = time.monotonic() + timeout
        count = self.count()
        while time.monotonic() < deadline:
            time.sleep(quiet)
            now = self.count()
            if now == count:
                return now
            count = now
        raise AssertionError(f"messages kept arriving for {timeout} s")
