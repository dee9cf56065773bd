"""The message contract: the JSON document a station publishes to `sensor/weather`.

Field names and nesting follow the lab (`course.md`) so its SQL works unchanged; `thing_name`, `seq` and
`sent_at` are added. Missing values are `null`, never NaN and never an ISD sentinel. The JSON Schema generated
from `WeatherMessage` is committed as `contracts/weather-message.schema.json` (a test keeps it in sync); other
packages read that file, not this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

SCHEMA_ID = "https://weather-fleet.dev/contracts/weather-message.schema.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Measurement(_Strict):
    """A scaled value with its ISD quality code kept as a string (`null` value when missing)."""

    value: float | None = Field(description="Value in SI units after scaling; null when missing.")
    quality: str | None = Field(description="ISD quality code, e.g. '1' (passed all checks), '5', 'A'.")


class LiquidPrecipitation(_Strict):
    """AA1-AA4: liquid precipitation over a period."""

    hours: int | None = Field(description="Period quantity in hours.")
    depth: float | None = Field(description="Depth in millimetres.")
    condition: str | None = Field(description="Condition code (e.g. '1' measurement impossible, '2' trace).")
    quality: str | None


class WeatherCondition(_Strict):
    """One present-weather observation: an MW (manual) or AW (automated) group."""

    present_weather_condition: str = Field(
        description="The code's words in the ISD format document's own table (MW: Part 28, AW: Part 5).")
    code: str = Field(description="The two-digit code the words come from, as in the file.")
    source: Literal["manual", "automated"] = Field(description="'manual' for MW groups, 'automated' for AW.")
    quality: str | None


class WeatherOccurrence(_Strict):
    """AU1-AU9: present weather as METAR components, each code kept beside its words."""

    intensity: str | None
    intensity_code: str | None
    descriptor: str | None
    descriptor_code: str | None
    precipitation: str | None
    precipitation_code: str | None
    obscuration: str | None
    obscuration_code: str | None
    other: str | None
    other_code: str | None
    combination: str | None
    combination_code: str | None
    quality: str | None


class SkyCoverLayer(_Strict):
    """GA1-GA6: one sky-cover layer."""

    coverage: int | None = Field(description="Coverage in oktas (0-8); null when obscured or missing.")
    coverage_fraction: float | None = Field(description="Coverage as a fraction of the sky, oktas / 8.")
    coverage_code: str | None = Field(description="The ISD coverage code ('00'-'10').")
    base_height: float | None = Field(description="Layer base height above ground, metres.")
    cloud_type: str | None = Field(description="Cloud type in words, e.g. 'Stratocumulus'.")
    cloud_type_code: str | None = Field(description="The ISD cloud-type code ('00'-'23').")
    quality: str | None = Field(description="Quality code of the coverage.")
    base_height_quality: str | None = Field(description="Quality code of the base height, its own.")
    cloud_type_quality: str | None = Field(description="Quality code of the cloud type.")


class ExtremeTemperature(_Strict):
    """KA1-KA4: extreme air temperature over a period."""

    hours: float | None = Field(description="Period in hours.")
    kind: Literal["min", "max"] | None = Field(description="'min' (code N or O) or 'max' (code M or P).")
    code: str | None = Field(description="The raw EXTREME-AIR-TEMPERATURE code: N minimum, M maximum, "
                             "O estimated minimum, P estimated maximum; null when missing ('9').")
    estimated: bool | None = Field(description="True for the estimated codes O and P, false for N and M.")
    value: float | None = Field(description="Temperature, degrees Celsius.")
    quality: str | None


class WeatherMessage(_Strict):
    """The JSON a station publishes for one ISD record."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={"$id": SCHEMA_ID, "title": "WeatherMessage"},
    )

    thing_name: str = Field(description="The publishing thing (MQTT client id).")
    seq: int = Field(ge=0, description="Per-station sequence number, monotonic across restarts.")
    sent_at: datetime = Field(description="UTC time the message was published, millisecond precision.")
    weather_station: str = Field(description="'USAF-WBAN' identifier, e.g. '723123-14886'.")
    latitude: float | None
    longitude: float | None
    elevation: float | None = Field(description="Metres above sea level.")
    time: datetime = Field(description="Observation time (UTC), or rebased onto the wall clock in shifted mode.")
    air_temperature: Measurement
    dew_point: Measurement
    wind_speed: Measurement
    wind_direction: Measurement
    sea_level_pressure: Measurement
    sky_ceiling: Measurement
    visibility_distance: Measurement
    liquid_precip: list[LiquidPrecipitation]
    weather_condition: list[WeatherCondition]
    weather_occurrence: list[WeatherOccurrence]
    sky_cover_condition: list[SkyCoverLayer]
    extreme_temperature: list[ExtremeTemperature]

    @field_serializer("time")
    def _time_iso(self, value: datetime) -> str:
        return value.isoformat()

    @field_serializer("sent_at")
    def _sent_at_iso(self, value: datetime) -> str:
        return value.isoformat(timespec="milliseconds")


def message_json_schema() -> dict:
    """The JSON Schema of `WeatherMessage`, as committed in `contracts/`."""
    return WeatherMessage.model_json_schema(mode="serialization")
