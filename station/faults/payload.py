"""Payload transformations of the sensor and message faults: pure functions of a decoded message (or its bytes).

Messages are decoded and re-encoded with orjson only when a rule acts on them; field order is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson

from fleetcore.faults.scenario import Malformation, Measure, MissingMode, SkewField

MALFORMATIONS = (Malformation.NOT_JSON, Malformation.TRUNCATED, Malformation.WRONG_TYPE, Malformation.NAN)
_NAN_MARK = "__fault_nan__"


def decode(payload: bytes) -> dict:
    return orjson.loads(payload)


def encode(doc: dict) -> bytes:
    return orjson.dumps(doc)


def skew(doc: dict, fields: list[SkewField], seconds: float) -> None:
    """Move each timestamp field by `seconds` (sent_at keeps millisecond precision, time its own)."""
    for name in fields:
        text = doc.get(name)
        if not isinstance(text, str):
            continue
        moved = datetime.fromisoformat(text) + timedelta(seconds=seconds)
        doc[name] = moved.isoformat(timespec="milliseconds") if name is SkewField.SENT_AT else moved.isoformat()


def measurement(doc: dict, field: Measure) -> object:
    value = doc.get(field)
    return value.get("value") if isinstance(value, dict) else None


def set_measurement(doc: dict, field: Measure, value: object) -> None:
    current = doc.get(field)
    doc[field] = {**current, "value": value} if isinstance(current, dict) else {"value": value, "quality": None}


def missing(doc: dict, fields: list[Measure], mode: MissingMode) -> None:
    for field in fields:
        if mode is MissingMode.ABSENT:
            doc.pop(field, None)
        else:
            set_measurement(doc, field, None)


def impersonate(doc: dict, victim: str) -> bytes:
    """The message as if `victim` had sent it."""
    return encode({**doc, "thing_name": victim})


def malform(payload: bytes, doc: dict | None, variant: Malformation) -> bytes:
    """`payload` broken as `variant` says (never ANY: the caller chose one):
    not_json: the opening brace replaced (`<"thing_name":...`); truncated: the first half of the bytes;
    wrong_type: air_temperature.value as a string (thing_name and seq intact); nan: air_temperature.value NaN."""
    if variant is Malformation.NOT_JSON:
        return b"<" + payload.lstrip()[1:]
    if variant is Malformation.TRUNCATED:
        return payload[: max(1, len(payload) // 2)]
    doc = dict(doc if doc is not None else decode(payload))
    if variant is Malformation.WRONG_TYPE:
        value = measurement(doc, Measure.AIR_TEMPERATURE)
        set_measurement(doc, Measure.AIR_TEMPERATURE, "n/a" if value is None else str(value))
        return encode(doc)
    set_measurement(doc, Measure.AIR_TEMPERATURE, _NAN_MARK)
    return encode(doc).replace(f'"{_NAN_MARK}"'.encode(), b"NaN")
