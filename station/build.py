"""From an `IsdRecord` to the weather message (the contract of `station.message.WeatherMessage`).

`build_message` returns a plain, JSON-ready dict (times already ISO 8601 strings) so the replay loop pays no
model overhead; tests validate these dicts against the pydantic model. `encode_message` writes compact UTF-8
JSON.
"""

from __future__ import annotations

from datetime import datetime, timezone

import orjson

from isd_decoder.record import IsdRecord

UTC = timezone.utc
_copy = dict.copy


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# The last sent_at seen and its text, replaced as one tuple (thread-safe); convert and inspect reuse one.
_last_sent_at: tuple[datetime | None, str] = (None, "")


def _iso_ms(moment: datetime) -> str:
    """`moment` in UTC as ISO 8601 with milliseconds, e.g. 2026-11-27T21:00:00.123+00:00."""
    global _last_sent_at
    last = _last_sent_at
    if moment is last[0]:
        return last[1]
    text = _utc(moment).replace(tzinfo=None).isoformat(timespec="milliseconds") + "+00:00"
    _last_sent_at = (moment, text)
    return text


def build_message(
    record: IsdRecord,
    *,
    thing_name: str,
    seq: int,
    sent_at: datetime,
    time: datetime | None = None,
) -> dict:
    """The message a station publishes for `record`; `time` replaces the observation time (shifted mode).

    Naive datetimes are taken as UTC.
    """
    precip, condition, occurrence, sky, extreme = record.message_lists
    observed = record.time_iso if time is None else _utc(time).isoformat()
    return {
        "thing_name": thing_name,
        "seq": seq,
        "sent_at": _iso_ms(sent_at),
        "weather_station": record.station_id,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "elevation": record.elevation,
        "time": observed,
        "air_temperature": {"value": record.air_temperature, "quality": record.air_temperature_quality},
        "dew_point": {"value": record.dew_point, "quality": record.dew_point_quality},
        "wind_speed": {"value": record.wind_speed, "quality": record.wind_speed_quality},
        "wind_direction": {"value": record.wind_direction, "quality": record.wind_direction_quality},
        "sea_level_pressure": {"value": record.sea_level_pressure, "quality": record.sea_level_pressure_quality},
        "sky_ceiling": {"value": record.ceiling, "quality": record.ceiling_quality},
        "visibility_distance": {"value": record.visibility, "quality": record.visibility_quality},
        "liquid_precip": list(map(_copy, precip)),
        "weather_condition": list(map(_copy, condition)),
        "weather_occurrence": list(map(_copy, occurrence)),
        "sky_cover_condition": list(map(_copy, sky)),
        "extreme_temperature": list(map(_copy, extreme)),
    }


def encode_message(message: dict) -> bytes:
    """Compact UTF-8 JSON of a message (orjson: several times faster than the standard library here).

    NaN and infinity, which JSON cannot hold, come out as null; `build_message` never produces them.
    """
    return orjson.dumps(message)
