"""The fleet's topic: stations publish to one concrete topic (TOPIC, default `sensor/weather`).

Invariants: TOPIC has no wildcard, no quote (AWS IoT rules quote it) and does not start with `$`; the monitor
subscribes to `monitor_filter(TOPIC)`, which matches TOPIC and every topic below it (so the ACL and the lake
writer follow TOPIC).
"""

from __future__ import annotations

DEFAULT_TOPIC = "sensor/weather"
MAX_TOPIC_BYTES = 256  # AWS IoT Core's topic limit (Mosquitto allows more); one rule for both targets


def validate_topic(value: str, variable: str = "TOPIC") -> str:
    """`value` when it is a concrete MQTT topic name; ValueError naming `variable` otherwise."""
    if not value or value.strip() != value:
        raise ValueError(f"{variable} must be a non-empty topic name without surrounding spaces: {value!r}")
    if any(c in value for c in "#+") or value.startswith("$"):
        raise ValueError(f"{variable} must be a concrete topic name (no wildcards, no leading $): {value!r}")
    if "'" in value:
        raise ValueError(f"{variable} must not contain a quote (' ends the AWS IoT rule's FROM '<topic>'): {value!r}")
    if "\x00" in value or len(value.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"{variable} must be at most {MAX_TOPIC_BYTES} bytes without NUL: {value!r}")
    return value


def monitor_filter(topic: str) -> str:
    """The subscription filter that receives TOPIC and everything below it (`sensor/weather` -> `sensor/weather/#`).

    MQTT's `a/#` matches `a` itself too, so one filter covers TOPIC and per-thing subtopics under it."""
    return f"{validate_topic(topic)}/#"
