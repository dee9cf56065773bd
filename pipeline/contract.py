"""What the lake checks of a message beyond `thing_name` and `seq`: the types of the fields the message contract
(contracts/weather-message.schema.json) gives them. A field present with the wrong type (a reading as a string, a
list that is not a list) makes the message malformed: it goes to the errors prefix, never into the lake.

An absent field is not refused here: a sensor that leaves a measurement out (a `missing` fault) is stored, and
queries read the field as NULL. `DUCKDB_TYPES` gives DuckDB a column for each field, so SQL over a batch where a
field is absent from every message (the cold-readings rule) still binds. tests/pipeline/test_contract.py keeps
these names equal to the committed schema's.
"""

from __future__ import annotations

import math

MEASUREMENTS = ("air_temperature", "dew_point", "wind_speed", "wind_direction", "sea_level_pressure", "sky_ceiling",
                "visibility_distance")
NUMBERS = ("latitude", "longitude", "elevation")
STRINGS = ("thing_name", "sent_at", "weather_station", "time")
LISTS = ("liquid_precip", "weather_condition", "weather_occurrence", "sky_cover_condition", "extreme_temperature")

_MEASUREMENT_SQL = "STRUCT(value DOUBLE, quality VARCHAR)"
DUCKDB_TYPES: dict[str, str] = {
    **{name: "VARCHAR" for name in STRINGS}, **{name: "DOUBLE" for name in NUMBERS},
    **{name: _MEASUREMENT_SQL for name in MEASUREMENTS}, **{name: "JSON[]" for name in LISTS}, "seq": "BIGINT",
}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def type_problem(doc: dict) -> str | None:
    """None when every contract field present in `doc` has its type; else the first problem, in words."""
    for name in STRINGS:
        if name in doc and not isinstance(doc[name], str):
            return f"{name} is {_kind(doc[name])}, not a string"
    for name in NUMBERS:
        value = doc.get(name)
        if value is not None and not _number(value):
            return f"{name} is {_kind(value)}, not a number or null"
    for name in MEASUREMENTS:
        if name not in doc:
            continue
        measure = doc[name]
        if not isinstance(measure, dict):
            return f"{name} is {_kind(measure)}, not an object with value and quality"
        value, quality = measure.get("value"), measure.get("quality")
        if value is not None and not _number(value):
            return f"{name}.value is {_kind(value)}, not a number or null"
        if quality is not None and not isinstance(quality, str):
            return f"{name}.quality is {_kind(quality)}, not a string or null"
    for name in LISTS:
        if name in doc and not isinstance(doc[name], list):
            return f"{name} is {_kind(doc[name])}, not a list"
    return None
