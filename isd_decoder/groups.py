"""Decoders of the additional-data groups the product uses (AA, AU, AW, MW, GA, GD, GF, KA, MA, OC).

Each decoder takes the group's characters after its identifier and returns a plain dict in SI units with
missing sentinels as None and code-table words beside their codes. One compiled pattern per group checks
the digit positions and splits the fields in a single call.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from isd_decoder.codes.clouds import CLOUD_TYPES, COVERAGE_OKTAS, COVERAGE_WORDS, SUMMATION_COVERAGE
from isd_decoder.codes.weather import (
    AU_COMBINATION,
    AU_DESCRIPTOR,
    AU_INTENSITY,
    AU_OBSCURATION,
    AU_OTHER,
    AU_PRECIPITATION,
    AUTOMATED_WEATHER,
    AUTOMATED_WEATHER_TABLE,
    MANUAL_WEATHER,
    MANUAL_WEATHER_TABLE,
)
from isd_decoder.errors import IsdLineError

Decoder = Callable[[str, str, int], dict]

_F = re.ASCII | re.DOTALL
_AA = re.compile(r"(\d{2})(\d{4})(.)(.)", _F).fullmatch
_AU = re.compile(r"(.)(.)(..)(.)(.)(.)(.)", _F).fullmatch
_PW = re.compile(r"(..)(.)", _F).fullmatch
_GA = re.compile(r"(..)(.)([+-]\d{5})(.)(..)(.)", _F).fullmatch
_GD = re.compile(r"(.)(..)(.)([+-]\d{5})(.)(.)", _F).fullmatch
_GF = re.compile(r"(..)(..)(.)(..)(.)(..)(.)(\d{5})(.)(..)(.)(..)(.)", _F).fullmatch
_KA = re.compile(r"(\d{3})(.)([+-]\d{4})(.)", _F).fullmatch
_MA = re.compile(r"(\d{5})(.)(\d{5})(.)", _F).fullmatch
_OC = re.compile(r"(\d{4})(.)", _F).fullmatch

# EXTREME-AIR-TEMPERATURE code (format document Part 24): N minimum, M maximum, O estimated minimum,
# P estimated maximum, 9 missing.
_KA_KIND = {"N": "min", "M": "max", "O": "min", "P": "max"}
_KA_ESTIMATED = {"N": False, "M": False, "O": True, "P": True}


def _bad(ident: str, data: str, line_number: int, expected: str) -> IsdLineError:
    return IsdLineError(line_number, "digits", f"{ident} group {data!r} does not match {expected}")


def liquid_precipitation(data: str, ident: str, line_number: int) -> dict:
    """AA1-AA4: period (h), depth (mm), condition code, quality."""
    m = _AA(data)
    if m is None:
        raise _bad(ident, data, line_number, "period(2 digits) depth(4 digits) condition quality")
    hours, depth, condition, quality = m.groups()
    return {
        "hours": None if hours == "99" else int(hours),
        "depth": None if depth == "9999" else int(depth) / 10,
        "condition": None if condition == "9" else condition,
        "quality": quality,
    }


def weather_occurrence(data: str, ident: str, line_number: int) -> dict:
    """AU1-AU9: METAR present weather, each component as words and code."""
    m = _AU(data)
    if m is None:  # cannot happen for 8 characters; kept for safety
        raise _bad(ident, data, line_number, "7 one-character codes")
    intensity, descriptor, precipitation, obscuration, other, combination, quality = m.groups()
    intensity = None if intensity == "9" else intensity
    descriptor = None if descriptor == "9" else descriptor
    precipitation = None if precipitation == "99" else precipitation
    obscuration = None if obscuration == "9" else obscuration
    other = None if other == "9" else other
    combination = None if combination == "9" else combination
    return {
        "intensity": AU_INTENSITY.get(intensity),
        "intensity_code": intensity,
        "descriptor": AU_DESCRIPTOR.get(descriptor),
        "descriptor_code": descriptor,
        "precipitation": AU_PRECIPITATION.get(precipitation),
        "precipitation_code": precipitation,
        "obscuration": AU_OBSCURATION.get(obscuration),
        "obscuration_code": obscuration,
        "other": AU_OTHER.get(other),
        "other_code": other,
        "combination": AU_COMBINATION.get(combination),
        "combination_code": combination,
        "quality": quality,
    }


def _present_weather(table: dict[str, str], source: str, table_name: str) -> Decoder:
    def decode(data: str, ident: str, line_number: int) -> dict:
        code, quality = _PW(data).groups()
        words = table.get(code)
        if words is None:
            words = f"Code {code} not defined in {table_name}"
        return {"present_weather_condition": words, "code": code, "source": source, "quality": quality}

    decode.__doc__ = f"Present weather from the {table_name}: code, words, quality."
    return decode


manual_weather = _present_weather(MANUAL_WEATHER, "manual", MANUAL_WEATHER_TABLE)
automated_weather = _present_weather(AUTOMATED_WEATHER, "automated", AUTOMATED_WEATHER_TABLE)


def sky_cover_layer(data: str, ident: str, line_number: int) -> dict:
    """GA1-GA6: coverage (code, oktas, fraction, words), base height (m), cloud type (code, words)."""
    m = _GA(data)
    if m is None:
        raise _bad(ident, data, line_number, "coverage(2) quality height(+5 digits) quality type(2) quality")
    coverage, coverage_q, height, height_q, cloud, cloud_q = m.groups()
    oktas = COVERAGE_OKTAS.get(coverage)
    coverage_code = None if coverage == "99" else coverage
    cloud_code = None if cloud == "99" else cloud
    return {
        "coverage": oktas,
        "coverage_fraction": None if oktas is None else oktas / 8,
        "coverage_code": coverage_code,
        "coverage_words": COVERAGE_WORDS.get(coverage),
        "coverage_quality": coverage_q,
        "base_height": None if height[1:] == "99999" else int(height),
        "base_height_quality": height_q,
        "cloud_type": CLOUD_TYPES.get(cloud),
        "cloud_type_code": cloud_code,
        "cloud_type_quality": cloud_q,
    }


def sky_cover_summation(data: str, ident: str, line_number: int) -> dict:
    """GD1-GD6: summation coverage, height (m), characteristic."""
    m = _GD(data)
    if m is None:
        raise _bad(ident, data, line_number, "code code(2) quality height(+5 digits) quality characteristic")
    code, code2, quality, height, height_q, characteristic = m.groups()
    oktas = COVERAGE_OKTAS.get(code2)
    return {
        "coverage_code": None if code == "9" else code,
        "coverage": SUMMATION_COVERAGE.get(code),
        "coverage_oktas": oktas,
        "coverage_code_2": None if code2 == "99" else code2,
        "quality": quality,
        "height": None if height[1:] == "99999" else int(height),
        "height_quality": height_q,
        "characteristic": None if characteristic == "9" else characteristic,
    }


def sky_condition(data: str, ident: str, line_number: int) -> dict:
    """GF1: total/opaque/low coverage, low/mid/high cloud genus, lowest cloud base height (m)."""
    m = _GF(data)
    if m is None:
        raise _bad(ident, data, line_number, "the GF1 layout (lowest base height: 5 digits)")
    (total, opaque, total_q, lowest, lowest_q, low_genus, low_q, base, base_q, mid_genus, mid_q,
     high_genus, high_q) = m.groups()
    return {
        "total_coverage": COVERAGE_OKTAS.get(total),
        "total_coverage_code": None if total == "99" else total,
        "opaque_coverage": COVERAGE_OKTAS.get(opaque),
        "total_coverage_quality": total_q,
        "lowest_cloud_coverage": COVERAGE_OKTAS.get(lowest),
        "lowest_cloud_coverage_quality": lowest_q,
        "low_cloud_genus": CLOUD_TYPES.get(low_genus),
        "low_cloud_genus_code": None if low_genus == "99" else low_genus,
        "low_cloud_genus_quality": low_q,
        "lowest_cloud_base_height": None if base == "99999" else int(base),
        "lowest_cloud_base_height_quality": base_q,
        "mid_cloud_genus": CLOUD_TYPES.get(mid_genus),
        "mid_cloud_genus_code": None if mid_genus == "99" else mid_genus,
        "mid_cloud_genus_quality": mid_q,
        "high_cloud_genus": CLOUD_TYPES.get(high_genus),
        "high_cloud_genus_code": None if high_genus == "99" else high_genus,
        "high_cloud_genus_quality": high_q,
    }


def extreme_temperature(data: str, ident: str, line_number: int) -> dict:
    """KA1-KA4: period (h), min/max, the raw code (N, M, O, P: O and P are estimated), temperature (degrees C),
    quality."""
    m = _KA(data)
    if m is None:
        raise _bad(ident, data, line_number, "period(3 digits) code temperature(+4 digits) quality")
    period, code, temp, quality = m.groups()
    return {
        "hours": None if period == "999" else int(period) / 10,
        "kind": _KA_KIND.get(code),
        "code": None if code == "9" else code,
        "estimated": _KA_ESTIMATED.get(code),
        "value": None if temp[1:] == "9999" else int(temp) / 10,
        "quality": quality,
    }


def atmospheric_pressure(data: str, ident: str, line_number: int) -> dict:
    """MA1: altimeter setting and station pressure (hPa)."""
    m = _MA(data)
    if m is None:
        raise _bad(ident, data, line_number, "altimeter(5 digits) quality pressure(5 digits) quality")
    altimeter, altimeter_q, station, station_q = m.groups()
    return {
        "altimeter": None if altimeter == "99999" else int(altimeter) / 10,
        "altimeter_quality": altimeter_q,
        "station_pressure": None if station == "99999" else int(station) / 10,
        "station_pressure_quality": station_q,
    }


def wind_gust(data: str, ident: str, line_number: int) -> dict:
    """OC1: wind gust speed (m/s)."""
    m = _OC(data)
    if m is None:
        raise _bad(ident, data, line_number, "speed(4 digits) quality")
    speed, quality = m.groups()
    return {"speed": None if speed == "9999" else int(speed) / 10, "quality": quality}


def _ga_message(group: dict) -> dict:
    return {
        "coverage": group["coverage"],
        "coverage_fraction": group["coverage_fraction"],
        "coverage_code": group["coverage_code"],
        "base_height": group["base_height"],
        "cloud_type": group["cloud_type"],
        "cloud_type_code": group["cloud_type_code"],
        "quality": group["coverage_quality"],
        "base_height_quality": group["base_height_quality"],
        "cloud_type_quality": group["cloud_type_quality"],
    }


def _ka_message(group: dict) -> dict:
    return {"hours": group["hours"], "kind": group["kind"], "code": group["code"], "estimated": group["estimated"],
            "value": group["value"], "quality": group["quality"]}


# Which list of the weather message a decoded group feeds (index into `MESSAGE_LISTS`).
MESSAGE_LISTS = ("liquid_precip", "weather_condition", "weather_occurrence", "sky_cover_condition",
                 "extreme_temperature")
PRECIP, CONDITION, OCCURRENCE, SKY, EXTREME = range(5)

# identifier -> (decoder, message list index or None, group dict -> message entry)
GroupSpec = tuple[Decoder, int | None, Callable[[dict], dict] | None]


def _for(prefix: str, first: int, last: int, spec: GroupSpec) -> dict[str, GroupSpec]:
    return {f"{prefix}{n}": spec for n in range(first, last + 1)}


DECODERS: dict[str, GroupSpec] = {
    **_for("AA", 1, 4, (liquid_precipitation, PRECIP, dict)),
    **_for("AU", 1, 9, (weather_occurrence, OCCURRENCE, dict)),
    **_for("AW", 1, 4, (automated_weather, CONDITION, dict)),
    **_for("MW", 1, 7, (manual_weather, CONDITION, dict)),
    **_for("GA", 1, 6, (sky_cover_layer, SKY, _ga_message)),
    **_for("GD", 1, 6, (sky_cover_summation, None, None)),
    "GF1": (sky_condition, None, None),
    **_for("KA", 1, 4, (extreme_temperature, EXTREME, _ka_message)),
    "MA1": (atmospheric_pressure, None, None),
    "OC1": (wind_gust, None, None),
}
