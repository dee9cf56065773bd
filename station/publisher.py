"""QoS1 publishing over awscrt's MQTT5 client with mutual TLS, flow control and per-message PUBACK checks.

- Connection: `fleetcore.mqtt` (the project's one mTLS MQTT5 builder), client id = thing name, clean start false with a
  session expiry (`REJOIN_ALWAYS`), reconnect with exponential backoff and full jitter. SDK metrics only on AWS IoT
  Core (Mosquitto would see them appended to the username, which is the certificate CN the ACL matches).
- Offline queue: `FAIL_QOS0_PUBLISH_ON_DISCONNECT` keeps every QoS1 publish (sent-but-unacknowledged ones go first)
  across disconnects, so a broker restart loses nothing.
- Flow control: at most `max_inflight` publishes without a PUBACK; `acquire_slot()` waits for the oldest, never
  sleeps. Completion futures are polled from the caller's thread in publish order (no Python callback per
  message on the CRT thread: less GIL contention, and the order matches seq for checkpoints).
- Every completion is checked: a PUBACK reason code other than SUCCESS / NO_MATCHING_SUBSCRIBERS (e.g.
  NOT_AUTHORIZED) or an exception is a failure, with its reason. Completions are queued for the caller
  (`drain_completions()`) so checkpoints advance only over acknowledged messages.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from pathlib import Path
from typing import Any, NamedTuple

from awscrt import mqtt5

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import OK_PUBACK_CODES, Callbacks, MqttOptions, Session, mtls_client
from station.errors import ConfigError, ConnectError
from station.logging_setup import emit

log = logging.getLogger("station.publisher")

_OK_CODES = OK_PUBACK_CODES
_QOS1 = mqtt5.QoS.AT_LEAST_ONCE

_HINTS = {
    "AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE": "TLS handshake failed: the broker refused this certificate or does not "
    "trust its CA, or ca.pem does not match the broker (check IDENTITY_DIR; `make register` recreates identities)",
    "AWS_IO_TLS_ALERT_NOT_GRACEFUL": "TLS handshake failed: the broker refused this certificate (check IDENTITY_DIR; "
    "`make register` recreates identities)",
    "AWS_IO_TLS_ERROR_READ_FAILURE": "TLS failed during the handshake: the broker most likely refused this client "
    "certificate (issued by a CA it does not trust, revoked or expired); check the certificate in IDENTITY_DIR "
    "(`make register` recreates identities)",
    "AWS_IO_SOCKET_CONNECTION_REFUSED": "connection refused: is the broker running at MQTT_HOST:MQTT_PORT?",
    "AWS_IO_SOCKET_TIMEOUT": "connection timed out: check MQTT_HOST and MQTT_PORT",
    "AWS_IO_DNS_INVALID_NAME": "MQTT_HOST does not resolve",
    "AWS_IO_DNS_QUERY_FAILED": "MQTT_HOST does not resolve",
    "AWS_IO_SOCKET_CLOSED": "the broker closed the connection (a refused client certificate looks like this)",
}


class ConnectionEvent(StrEnum):
    """What `on_event` is told (on the CRT thread): the one place every connection event passes."""

    CONNECTED = "connected"
    CONNECT_FAILED = "connect-failed"
    DISCONNECTED = "disconnected"


class Completion(NamedTuple):
    """The outcome of one publish: `token` is what the caller passed to `publish()` (a tuple: one is made per
    message, about three times cheaper than a frozen dataclass)."""

    token: Any
    ok: bool
    reason: str | None


def describe_error(exc: BaseException | None) -> str:
    """A one-line reason for an awscrt error, with a hint when the cause is a usual one."""
    if exc is None:
        return "unknown error"
    name = getattr(exc, "name", None) or exc.__class__.__name__
    hint = _HINTS.get(name)
    return f"{name}: {hint}" if hint else f"{name}: {getattr(exc, 'message', str(exc))}"


def describe_connack(connack: mqtt5.ConnackPacket | None) -> str | None:
    if connack is None or connack.reason_code == mqtt5.ConnectReasonCode.SUCCESS:
        return None
    code = connack.reason_code
    text = getattr(code, "name", str(code))
    if connack.reason_string:
        text += f" ({connack.reason_string})"
    return f"broker refused CONNECT: {text}"


@dataclass(frozen=True)
class ConnectionConfig:
    """Where and as whom to connect."""

    host: str
    port: int
    client_id: str
    certificate: Path
    private_key: Path
    ca: Path | None
    metrics: bool = False
    aws_limits: bool = False  # client-side AWS IoT Core flow control (100 TPS, 512 KB/s): AWS only
    keep_alive: int = 30
    session_expiry: int = 3600
    min_reconnect_ms: int = 250
    max_reconnect_ms: int = 30_000
    bootstrap: Any = None  # an awscrt ClientBootstrap shared by the clients of one process (None: the default)


class Publisher:
    """One MQTT5 connection publishing QoS1 messages to one topic."""

    def __init__(self, config: ConnectionConfig, topic: str, *, max_inflight: int = 1000,
                 on_event: Callable[[ConnectionEvent, str], None] | None = None) -> None:
        self.config = config
        self.topic = topic
        self.max_inflight = max_inflight
        self._inflight: collections.deque[tuple[Future, Any]] = collections.deque()
        self._completions: collections.deque[Completion] = collections.deque()
        self._packet = mqtt5.PublishPacket
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._stopping = False
        self._paused = False
        self._lock = threading.Lock()
        self.connect_count = 0
        self.disconnect_count = 0
        self.last_error: str | None = None
        self.published = 0
        self._on_event = on_event
        try:
            self.client = self._client(config)
        except RuntimeError as exc:  # awscrt: the TLS context cannot be made from these files
            raise ConfigError(
                f"the identity in {config.certificate.parent} cannot be loaded ({describe_error(exc)}): "
                "certificate.pem, private.key and ca.pem must be PEM files of one identity "
                "(`make register` recreates identities)") from None

    def _client(self, config: ConnectionConfig) -> mqtt5.Client:
        return mtls_client(
            MqttOptions(host=config.host, port=config.port, client_id=config.client_id,
                        identity=IdentityFiles(config.certificate, config.private_key, config.ca),
                        session=Session.PERSISTENT, session_expiry=config.session_expiry,
                        keep_alive=config.keep_alive, min_reconnect_ms=config.min_reconnect_ms,
                        max_reconnect_ms=config.max_reconnect_ms, metrics=config.metrics,
                        aws_limits=config.aws_limits, bootstrap=config.bootstrap),
            Callbacks(on_success=self._on_success, on_failure=self._on_failure,
                      on_disconnect=self._on_disconnect, on_stopped=lambda data: self._stopped.set()),
        )

    # --- lifecycle callbacks (CRT event-loop thread) ------------------------------------------------------------
    def _event(self, kind: ConnectionEvent, text: str) -> None:
        if self._on_event is not None:
            self._on_event(kind, text)

    def _on_success(self, data: mqtt5.LifecycleConnectSuccessData) -> None:
        self.connect_count += 1
        self.last_error = None
        self._connected.set()
        session = bool(data.connack_packet and data.connack_packet.session_present)
        emit(log, logging.INFO, "connected", f"{self.config.host}:{self.config.port}",
             client_id=self.config.client_id, session_present=session, connection=self.connect_count)
        self._event(ConnectionEvent.CONNECTED, "")

    def _on_failure(self, data: mqtt5.LifecycleConnectFailureData) -> None:
        reason = describe_connack(data.connack_packet) or describe_error(data.exception)
        repeated = reason == self.last_error
        self.last_error = reason
        # One line per new reason: retries failing the same way (every backoff step) are logged at DEBUG only.
        emit(log, logging.DEBUG if repeated else logging.WARNING, "connect-attempt-failed", reason,
             endpoint=f"{self.config.host}:{self.config.port}")
        self._event(ConnectionEvent.CONNECT_FAILED, reason)

    def _on_disconnect(self, data: mqtt5.LifecycleDisconnectData) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if self._stopping or self._paused or not was_connected:
            return
        self.disconnect_count += 1
        reason = describe_error(data.exception)
        if data.disconnect_packet is not None:
            reason = f"DISCONNECT {data.disconnect_packet.reason_code.name}"
        self.last_error = reason
        emit(log, logging.WARNING, "disconnected", reason, inflight=self.inflight,
             note="reconnecting with backoff; unacknowledged QoS1 publishes are kept")
        self._event(ConnectionEvent.DISCONNECTED, reason)

    # --- publishing ------------------------------------------------------------------------------------------
    @staticmethod
    def _outcome(token: Any, future: Future) -> Completion:
        try:
            puback = future.result(0).puback
        except Exception as exc:  # noqa: BLE001 - every failure is reported with its reason
            return Completion(token, False, describe_error(exc))
        if puback is None:
            return Completion(token, False, "no PUBACK")
        if puback.reason_code in _OK_CODES:
            return Completion(token, True, None)
        code = puback.reason_code
        reason = getattr(code, "name", str(code))
        if puback.reason_string:
            reason += f" ({puback.reason_string})"
        return Completion(token, False, reason)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def inflight(self) -> int:
        """Publishes whose completion has not been collected yet."""
        return len(self._inflight)

    def start(self) -> None:
        self.client.start()

    def wait_connected(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait for the first connection; False when `stop` was set. ConnectError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.1):
            if stop is not None and stop.is_set():
                return False
            if time.monotonic() >= deadline:
                reason = self.last_error or ("no answer from the broker (neither a TLS handshake nor a CONNACK came "
                                             "back: is MQTT_HOST:MQTT_PORT the broker's TLS listener?)")
                raise ConnectError(
                    f"could not connect to {self.config.host}:{self.config.port} as {self.config.client_id} "
                    f"within {timeout:g} s: {reason}")
        return True

    def acquire_slot(self, stop: threading.Event, tick: Callable[[], None] | None = None) -> bool:
        """Wait until fewer than `max_inflight` publishes are unacknowledged; False when `stop` was set."""
        inflight = self._inflight
        if len(inflight) < self.max_inflight:
            return True
        self._collect()
        # Full: wait until half the window is acknowledged, then go on in a burst (waking up for every single
        # PUBACK would hand the GIL back and forth with the CRT thread once per message).
        low_water = self.max_inflight // 2
        while len(inflight) > low_water:
            future = inflight[len(inflight) - low_water - 1][0]
            if not future.done():
                futures_wait([future], timeout=0.2)
            self._collect()
            if stop.is_set():
                return False
            if tick is not None:
                tick()
        return True

    def publish(self, payload: bytes, token: Any) -> None:
        """Queue a QoS1 publish; its Completion is collected later, in publish order."""
        self._inflight.append((self.client.publish(self._packet(topic=self.topic, payload=payload, qos=_QOS1)),
                               token))
        self.published += 1

    def _collect(self) -> None:
        """Move the finished publishes at the head of the in-flight queue to the completions."""
        inflight, done, outcome = self._inflight, self._completions.append, self._outcome
        while inflight and inflight[0][0].done():
            future, token = inflight.popleft()
            done(outcome(token, future))

    def drain_completions(self) -> list[Completion]:
        """Completions collected since the last call, in publish order (the order seq was assigned)."""
        self._collect()
        out = list(self._completions)
        self._completions.clear()
        return out

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every published message has completed (True) or `timeout` passed (False)."""
        deadline = time.monotonic() + timeout
        while self._inflight:
            self._collect()
            if not self._inflight:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            futures_wait([self._inflight[0][0]], timeout=min(remaining, 0.2))
        return True

    def pause(self) -> None:
        """Close the connection on purpose (a disconnect fault); `resume()` connects again. Call it only with no
        publish in flight (`inflight` 0): stopping the client may fail what it still holds."""
        self._paused = True
        self._stopped.clear()
        emit(log, logging.INFO, "disconnect-fault", "closing the connection on purpose",
             client_id=self.config.client_id)
        self.client.stop()

    def resume(self) -> None:
        """Connect again after `pause()` (same client, same persistent session)."""
        self._paused = False
        self._stopped.clear()
        self.client.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.request_stop()
        self.wait_stopped(timeout)

    def request_stop(self) -> None:
        """Ask the client to disconnect and stop, without waiting (a group stops all its clients at once)."""
        self._stopping = True
        self.client.stop()

    def wait_stopped(self, timeout: float) -> bool:
        return self._stopped.wait(timeout)
