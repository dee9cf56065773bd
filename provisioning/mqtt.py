"""A small MQTT5 mutual-TLS client over awscrt, for the monitor (`make watch`) and the fleet tests."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from awscrt import mqtt5

from fleetcore.identity import IdentityFiles, default_client_id
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client, one_shot_client


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes


class IdentityClient:
    """An MQTT5 client that authenticates with one identity folder (certificate.pem, private.key, ca.pem).

    The client id defaults to the identity's own (`fleetcore.identity.default_client_id`: the thing's name, or a
    fresh `monitor-watch-...` for the monitor), the only ids the broker accepts for it.
    Connection outcome is observable: `wait_connected()` returns True on CONNACK success and False when the
    broker (or TLS) refused; received messages land in `messages` (a queue of `Received`).
    """

    def __init__(self, identity_dir: Path, host: str, port: int, *, client_id: str | None = None,
                 ca_file: Path | None = None, retry: bool = False) -> None:
        identity_dir = Path(identity_dir)
        self.messages: queue.Queue[Received] = queue.Queue()
        self.connect_error: str | None = None
        self._connected = threading.Event()
        self._finished = threading.Event()
        self._stopped = threading.Event()
        options = MqttOptions(host=host, port=port,
                              client_id=client_id or default_client_id(identity_dir.name),
                              identity=IdentityFiles.in_folder(identity_dir, ca=ca_file), session=Session.CLEAN)
        callbacks = Callbacks(on_publish=self._on_publish, on_success=self._on_success, on_failure=self._on_failure,
                              on_stopped=lambda _data: self._stopped.set())
        # Without retry, one attempt is enough to tell "refused" from "accepted". With retry, attempts every 2 s
        # at most, so a client waiting for a broker that is starting connects soon after it answers.
        self.client = (mtls_client(replace(options, max_reconnect_ms=2_000), callbacks) if retry
                       else one_shot_client(options, callbacks))

    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        p = data.publish_packet
        self.messages.put(Received(topic=p.topic, payload=bytes(p.payload or b"")))

    def _on_success(self, _data: mqtt5.LifecycleConnectSuccessData) -> None:
        self._connected.set()
        self._finished.set()

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        code = getattr(data.connack_packet, "reason_code", None) if data.connack_packet else None
        self.connect_error = f"{data.exception}" + (f" (CONNACK {code!r})" if code is not None else "")
        self._finished.set()

    def start(self) -> IdentityClient:
        self.client.start()
        return self

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True when connected; False when refused or not connected within `timeout` seconds."""
        self._finished.wait(timeout)
        return self._connected.is_set()

    def wait_until_connected(self, timeout: float) -> bool:
        """With `retry`: True once connected, through any failed attempts; False after `timeout` seconds."""
        return self._connected.wait(timeout)

    def subscribe(self, topic_filter: str, timeout: float = 10.0) -> list[mqtt5.SubackReasonCode]:
        packet = mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(topic_filter=topic_filter,
                                                                         qos=mqtt5.QoS.AT_LEAST_ONCE)])
        suback = self.client.subscribe(packet).result(timeout)
        return list(suback.reason_codes)

    def publish(self, topic: str, payload: bytes, timeout: float = 10.0) -> mqtt5.PubackReasonCode:
        """Publish at QoS1; the broker's PUBACK reason code (SUCCESS, NOT_AUTHORIZED, ...)."""
        done = self.client.publish(mqtt5.PublishPacket(topic=topic, payload=payload,
                                                       qos=mqtt5.QoS.AT_LEAST_ONCE)).result(timeout)
        return done.puback.reason_code

    def stop(self, timeout: float = 5.0) -> None:
        self.client.stop()
        self._stopped.wait(timeout)

    def __enter__(self) -> IdentityClient:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
