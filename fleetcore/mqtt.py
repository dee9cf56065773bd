"""The one mutual-TLS MQTT5 client builder (awscrt through `awsiot.mqtt5_client_builder`).

Every MQTT client of the project (station publisher, lake subscriber, `make watch`, benchmarks, test helpers) is
built here, after the AWS IoT Device SDK's own pattern: one private builder, thin public functions. Only options
the SDK builder actually reads are passed (it silently ignores unknown keyword arguments, which is how
`clean_start`/`keep_alive_secs` were once lost).

Invariants: the client id is given explicitly; SDK metrics are off unless asked for (Mosquitto would see them
appended to the username, which is the certificate CN the ACL matches); port 443 gets the `x-amzn-mqtt-ca` ALPN
from the SDK builder by itself (AWS IoT Core on 443).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from awscrt import io, mqtt5
from awsiot import mqtt5_client_builder

from fleetcore.identity import IdentityFiles

OK_PUBACK_CODES = frozenset({mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS})


class Session(enum.Enum):
    """What the broker keeps between connections."""

    CLEAN = "clean"            # a new session on every connect (watchers, one-shot clients)
    PERSISTENT = "persistent"  # clean start false + session expiry: QoS1 traffic survives a disconnect


@dataclass(frozen=True)
class MqttOptions:
    """Where and as whom to connect, and how to behave. Defaults are the project's."""

    host: str
    port: int
    client_id: str
    identity: IdentityFiles
    session: Session = Session.PERSISTENT
    session_expiry: int = 3600
    keep_alive: int = 30
    min_reconnect_ms: int = 250
    max_reconnect_ms: int = 30_000
    connack_timeout_ms: int | None = None
    receive_maximum: int | None = None
    metrics: bool = False
    aws_limits: bool = False  # client-side AWS IoT Core flow control (100 TPS, 512 KB/s per connection)
    bootstrap: io.ClientBootstrap | None = None  # shared by many clients of one process (one event loop group)


@dataclass(frozen=True)
class Callbacks:
    """Lifecycle and publish callbacks; they run on the CRT event-loop thread."""

    on_publish: Callable[[mqtt5.PublishReceivedData], None] | None = None
    on_success: Callable[[mqtt5.LifecycleConnectSuccessData], None] | None = None
    on_failure: Callable[[mqtt5.LifecycleConnectFailureData], None] | None = None
    on_disconnect: Callable[[mqtt5.LifecycleDisconnectData], None] | None = None
    on_stopped: Callable[[mqtt5.LifecycleStoppedData], None] | None = None


def _builder(options: MqttOptions, callbacks: Callbacks) -> mqtt5.Client:
    """The only call to the SDK builder."""
    persistent = options.session is Session.PERSISTENT
    kwargs: dict[str, Any] = dict(
        endpoint=options.host,
        port=options.port,
        cert_filepath=str(options.identity.certificate),
        pri_key_filepath=str(options.identity.private_key),
        ca_filepath=str(options.identity.ca) if options.identity.ca else None,
        client_id=options.client_id,
        client_bootstrap=options.bootstrap,
        enable_metrics_collection=options.metrics,
        keep_alive_interval_sec=options.keep_alive,
        ping_timeout_ms=min(10_000, max(1000, (options.keep_alive - 1) * 1000 // 2)),
        session_behavior=(mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS if persistent
                          else mqtt5.ClientSessionBehaviorType.CLEAN),
        session_expiry_interval_sec=options.session_expiry if persistent else 0,
        offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_QOS0_PUBLISH_ON_DISCONNECT,
        retry_jitter_mode=mqtt5.ExponentialBackoffJitterMode.FULL,
        min_reconnect_delay_ms=options.min_reconnect_ms,
        max_reconnect_delay_ms=options.max_reconnect_ms,
        connack_timeout_ms=options.connack_timeout_ms,
        receive_maximum=options.receive_maximum,
        extended_validation_and_flow_control_options=(
            mqtt5.ExtendedValidationAndFlowControlOptions.AWS_IOT_CORE_DEFAULTS if options.aws_limits
            else mqtt5.ExtendedValidationAndFlowControlOptions.NONE),
        on_publish_received=callbacks.on_publish,
        on_lifecycle_connection_success=callbacks.on_success,
        on_lifecycle_connection_failure=callbacks.on_failure,
        on_lifecycle_disconnection=callbacks.on_disconnect,
        on_lifecycle_stopped=callbacks.on_stopped,
    )
    return mqtt5_client_builder.mtls_from_path(**kwargs)


def mtls_client(options: MqttOptions, callbacks: Callbacks = Callbacks()) -> mqtt5.Client:
    """An MQTT5 client over mutual TLS with the project's defaults (not started)."""
    return _builder(options, callbacks)


def one_shot_client(options: MqttOptions, callbacks: Callbacks = Callbacks()) -> mqtt5.Client:
    """A client that tries once and then waits a minute before retrying: enough to tell refused from accepted."""
    from dataclasses import replace

    return _builder(replace(options, min_reconnect_ms=60_000, max_reconnect_ms=60_000), callbacks)
