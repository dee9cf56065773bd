"""From an `IsdRecord` to the weather message (the contract of `station.message.WeatherMessage`).

`build_message` returns a plain, JSON-ready dict (times already ISO 8601 strings) so the replay loop pays no
model overhead; tests validate these dicts against the pydantic model. `encode_message` writes compact UTF-8
JSON and refuses NaN/Infinity.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from station.isd.record import IsdRecord

UTC = timezone.utc
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
    liquid_precip: list[dict] = []
    weather_condition: list[dict] = []
    weather_occurrence: list[dict] = []
    sky_cover: list[dict] = []
    extreme: list[dict] = []
    for ident, group in record.groups.items():
        kind = ident[:2]
        if kind == "GA":
            sky_cover.append(
                {
                    "coverage": group["coverage"],
                    "coverage_fraction": group["coverage_fraction"],
                    "coverage_code": group["coverage_code"],
                    "base_height": group["base_height"],
                    "cloud_type": group["cloud_type"],
                    "cloud_type_code": group["cloud_type_code"],
                    "quality": group["coverage_quality"],
                }
            )
        elif kind == "MW" or kind == "AW":
            weather_condition.append(group.copy())
        elif kind == "AA":
            liquid_precip.append(group.copy())
        elif kind == "AU":
            weather_occurrence.append(group.copy())
        elif kind == "KA":
            extreme.append(
                {"hours": group["hours"], "kind": group["kind"], "value": group["value"], "quality": group["quality"]}
            )
    observed = record.time if time is None else _utc(time)
    return {
        "thing_name": thing_name,
        "seq": seq,
        "sent_at": _utc(sent_at).isoformat(timespec="milliseconds"),
        "weather_station": record.station_id,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "elevation": record.elevation,
        "time": observed.isoformat(),
        "air_temperature": {"value": record.air_temperature, "quality": record.air_temperature_quality},
        "dew_point": {"value": record.dew_point, "quality": record.dew_point_quality},
        "wind_speed": {"value": record.wind_speed, "quality": record.wind_speed_quality},
        "wind_direction": {"value": record.wind_direction, "quality": record.wind_direction_quality},
        "sea_level_pressure": {"value": record.sea_level_pressure, "quality": record.sea_level_pressure_quality},
        "sky_ceiling": {"value": record.ceiling, "quality": record.ceiling_quality},
        "visibility_distance": {"value": record.visibility, "quality": record.visibility_quality},
        "liquid_precip": liquid_precip,
        "weather_condition": weather_condition,
        "weather_occurrence": weather_occurrence,
        "sky_cover_condition": sky_cover,
        "extreme_temperature": extreme,
    }


def encode_message(message: dict) -> bytes:
    """Compact UTF-8 JSON; raises ValueError on NaN or infinity (never valid JSON)."""
    return _encode(message).encode("utf-8")
