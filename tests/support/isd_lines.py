"""Build ISD lines field by field, following the positions of the format document (test helper)."""

from __future__ import annotations

# Field name -> (width, default). Order is the order of positions 5-105; the defaults are the first
# record of 723123-14886-2022 (KLNL, 2022-01-01 00:15 UTC).
FIXED_FIELDS: dict[str, tuple[int, str]] = {
    "usaf": (6, "723123"),
    "wban": (5, "14886"),
    "date": (8, "20220101"),
    "time": (4, "0015"),
    "source": (1, "4"),
    "latitude": (6, "+46154"),
    "longitude": (7, "-089212"),
    "report_type": (5, "FM-15"),
    "elevation": (5, "+0519"),
    "call_letters": (5, "99999"),
    "qc_process": (4, "V020"),
    "wind_direction": (3, "330"),
    "wind_direction_quality": (1, "1"),
    "wind_type": (1, "N"),
    "wind_speed": (4, "0031"),
    "wind_speed_quality": (1, "1"),
    "ceiling": (5, "99999"),
    "ceiling_quality": (1, "9"),
    "ceiling_determination": (1, "9"),
    "cavok": (1, "N"),
    "visibility": (6, "999999"),
    "visibility_quality": (1, "9"),
    "visibility_variability": (1, "9"),
    "visibility_variability_quality": (1, "9"),
    "air_temperature": (5, "-0100"),
    "air_temperature_quality": (1, "1"),
    "dew_point": (5, "-0122"),
    "dew_point_quality": (1, "1"),
    "sea_level_pressure": (5, "99999"),
    "sea_level_pressure_quality": (1, "9"),
}

REAL_FIRST_LINE = (
    "0097723123148862022010100154+46154-089212FM-15+051999999V0203301N003119999999N999999999-01001-01221999999"
    "ADDMA1100981999999REMMET070METAR KLNL 010015Z AUTO 33006KT M10/M12 A2982 RMK AO2 T11001122 PWINO="
)


def fixed_part(**fields: str) -> str:
    """Positions 5-105 (everything after the length field) with `fields` replacing the defaults."""
    unknown = set(fields) - set(FIXED_FIELDS)
    if unknown:
        raise KeyError(f"unknown fields {unknown}")
    parts = []
    for name, (width, default) in FIXED_FIELDS.items():
        value = fields.get(name, default)
        if len(value) != width:
            raise ValueError(f"{name} must be {width} characters, got {value!r}")
        parts.append(value)
    return "".join(parts)


def isd_line(variable: str = "", **fields: str) -> str:
    """A complete line: the declared length, the fixed part, then the variable part (ADD/REM/EQD/QNN)."""
    return f"{len(variable):04d}{fixed_part(**fields)}{variable}"


def remark(kind: str, text: str) -> str:
    """One REM item: type, 3-digit length, text."""
    return f"{kind}{len(text):03d}{text}"
