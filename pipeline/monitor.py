"""The monitor identity's MQTT5 subscription that feeds the lake writer (awscrt, mutual TLS).

A persistent session (`REJOIN_ALWAYS`, `LAKE_SESSION_EXPIRY_SECONDS`) and manual QoS1 acknowledgements: the
broker keeps every message the writer has not acknowledged, and the writer acknowledges a message only once it
is in a lake file. A restart, even a crash, therefore loses nothing; redeliveries are dropped by the ledger.

Each message goes to the writer with its publisher: the value of the MQTT5 user property `fleet-publisher`,
which the broker's fleet_identity plugin sets to the publisher's certificate CN (and refuses from clients).
No such property, or more than one, means no trustworthy publisher (None).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from pathlib import Path

from awscrt import mqtt5

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client
from fleetcore.topic import DEFAULT_TOPIC
from pipeline.errors import ConfigError, PipelineError
from pipeline.lake import LakeWriter

log = logging.getLogger(__name__)

PUBLISHER_PROPERTY = "fleet-publisher"


def publisher_of(packet: mqtt5.PublishPacket) -> str | None:
    """The broker-stamped publisher of a PUBLISH, or None when it carries none (or, impossibly, several)."""
    values = [p.value for p in (packet.user_properties or []) if p.name == PUBLISHER_PROPERTY]
    return values[0] if len(values) == 1 and values[0] else None


def check_identity(identity_dir: Path) -> IdentityFiles:
    """The monitor identity's files, or ConfigError with one line per missing or unreadable file."""
    files = IdentityFiles.in_folder(Path(identity_dir))
    problems = files.problems("MONITOR_IDENTITY_DIR")
    if problems:
        raise ConfigError("\n".join([f"monitor identity incomplete in {identity_dir}:", *problems]))
    return files


class LakeSubscriber:
    """Subscribes `topic` at QoS1 and hands every PUBLISH to a LakeWriter with its acknowledgement handle."""

    def __init__(self, writer: LakeWriter, *, host: str, port: int, identity_dir: Path, client_id: str,
                 topic: str = DEFAULT_TOPIC, session_expiry_seconds: int = 7 * 24 * 3600) -> None:
        identity = check_identity(identity_dir)
        self.writer = writer
        self.topic = topic
        self.received = 0
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._subscribed: Future | None = None
        self.client = mtls_client(
            MqttOptions(host=host, port=port, client_id=client_id, identity=identity,
                        session=Session.PERSISTENT, session_expiry=session_expiry_seconds, receive_maximum=65535,
                        min_reconnect_ms=200, max_reconnect_ms=5000),
            Callbacks(on_publish=self._on_publish, on_success=self._on_connected, on_failure=self._on_failure,
                      on_disconnect=self._on_disconnect, on_stopped=lambda data: self._stopped.set()),
        )
        writer.set_ack(self._ack)  # acknowledgements go back through this client

    # -- callbacks (awscrt event-loop thread) ----------------------------------------------------------------
    def _on_publish(self, data: mqtt5.PublishReceivedData) -> None:
        handle = None
        if data.acquire_publish_acknowledgement_control is not None:
            handle = data.acquire_publish_acknowledgement_control()
        self.received += 1
        try:
            self.writer.add(data.publish_packet.payload, handle, publisher_of(data.publish_packet))
        except Exception:  # noqa: BLE001 - unacknowledged: the broker redelivers after a reconnect
            log.exception("could not buffer a message from %s", data.publish_packet.topic)

    def _on_connected(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        resumed = bool(data.connack_packet and data.connack_packet.session_present)
        log.info("connected (session %s)", "resumed" if resumed else "new")
        # Subscribing again on a resumed session is harmless and covers a broker that lost it.
        self._subscribed = self.client.subscribe(mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=self.topic, qos=mqtt5.QoS.AT_LEAST_ONCE)]))
        self._connected.set()

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        log.warning("connection failed: %s", data.exception)

    def _on_disconnect(self, data: mqtt5.LifecycleDisconnectData) -> None:
        self._connected.clear()
        log.warning("disconnected: %s", data.exception)

    def _ack(self, handle: mqtt5.PublishAcknowledgementControlHandle) -> None:
        self.client.invoke_publish_acknowledgement(handle)

    # -- control --------------------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        """Connect and subscribe; PipelineError naming the broker when that fails, ConfigError when the ACL
        refuses the subscription."""
        self.client.start()
        if not self._connected.wait(timeout):
            raise PipelineError("lake writer could not connect to the broker (check MQTT_HOST, MQTT_PORT and the "
                               "broker with `make up`)")
        assert self._subscribed is not None
        suback = self._subscribed.result(timeout)
        codes = [int(c) for c in suback.reason_codes]
        if any(c >= 0x80 for c in codes):
            raise ConfigError(f"subscription to {self.topic!r} refused (reason codes {codes}): "
                                  "the monitor identity needs read access in the broker ACL (`make register`)")
        log.info("subscribed to %s", self.topic)

    def stop(self, timeout: float = 10.0) -> None:
        """Flush the lake (acknowledging what it wrote), then disconnect keeping the session."""
        self.writer.flush()
        self.client.stop()
        self._stopped.wait(timeout)


def serve(writer: LakeWriter, subscriber: LakeSubscriber, stop: threading.Event) -> None:
    """Run until `stop` is set: the subscription feeds the writer, a timer flushes it on age."""
    timer = threading.Thread(target=writer.run_timer, args=(stop,), name="lake-flush-timer", daemon=True)
    subscriber.start()
    timer.start()
    try:
        stop.wait()
    finally:
        subscriber.stop()
        timer.join(timeout=5)
        writer.close()
