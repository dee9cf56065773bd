"""Small hand-made messages valid against the WeatherMessage contract, for tests that need no ISD file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from station.message import WeatherMessage

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)


def _measure(value: float | None, quality: str | None = "1") -> dict:
    return {"value": value, "quality": quality if value is not None else "9"}


def message(thing: str, seq: int, temperature: float | None, *, station: str | None = None,
            conditions: tuple[str, ...] = (), clouds: tuple[str, ...] = (), minutes: int | None = None) -> dict:
    """One message; `minutes` after 2022-01-01 defaults to one hour per seq."""
    observed = T0 + timedelta(minutes=60 * seq if minutes is None else minutes)
    doc = {
        "thing_name": thing,
        "seq": seq,
        "sent_at": (observed + timedelta(days=365 * 4, milliseconds=250)).isoformat(timespec="milliseconds"),
        "weather_station": station or f"{thing}-99999",
        "latitude": 46.154, "longitude": -89.212, "elevation": 519.0,
        "time": observed.isoformat(),
        "air_temperature": _measure(temperature),
        "dew_point": _measure(-12.5), "wind_speed": _measure(3.1), "wind_direction": _measure(270.0),
        "sea_level_pressure": _measure(None), "sky_ceiling": _measure(22000.0),
        "visibility_distance": _measure(16000.0),
        "liquid_precip": [],
        "weather_condition": [
            {"present_weather_condition": c, "code": "71", "source": "manual", "quality": "1"} for c in conditions
        ],
        "weather_occurrence": [],
        "sky_cover_condition": [
            {"coverage": 8, "coverage_fraction": 1.0, "coverage_code": "08", "base_height": 300.0,
             "cloud_type": c, "cloud_type_code": "07", "quality": "1", "base_height_quality": "1",
             "cloud_type_quality": "1"} for c in clouds
        ],
        "extreme_temperature": [],
    }
    return WeatherMessage.model_validate(doc).model_dump(mode="json")
