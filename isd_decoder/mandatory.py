"""Control and mandatory data sections: positions 1-105 of every ISD line (format document DS3505).

One compiled pattern checks every position that must hold digits and splits the 105 characters into fields
in a single C call; the conversions below only scale values and turn missing sentinels into None.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from isd_decoder.errors import IsdLineError

FIXED_LENGTH = 105

# Positions (1-based, inclusive) in the comments are those of the format document.
_FIXED = re.compile(
    r"(\d{4})"  # 1-4 total variable characters
    r"([0-9A-Z]\d{5})"  # 5-10 USAF (position 5 may be a letter)
    r"(\d{5})"  # 11-15 WBAN
    r"(\d{4})(\d{2})(\d{2})"  # 16-23 date YYYYMMDD
    r"(\d{2})(\d{2})"  # 24-27 time HHMM
    r"(.)"  # 28 data source flag
    r"([+-]\d{5})"  # 29-34 latitude x1000
    r"([+-]\d{6})"  # 35-41 longitude x1000
    r"(.{5})"  # 42-46 report type code
    r"([+-]\d{4})"  # 47-51 elevation, metres
    r"(.{5})"  # 52-56 call letter identifier
    r"(.{4})"  # 57-60 quality control process name
    r"(\d{3})(.)(.)"  # 61-65 wind direction angle, quality, type code
    r"(\d{4})(.)"  # 66-70 wind speed rate x10, quality
    r"(\d{5})(.)(.)(.)"  # 71-78 ceiling height, quality, determination, CAVOK
    r"(\d{6})(.)(.)(.)"  # 79-87 visibility distance, quality, variability, its quality
    r"([+-]\d{4})(.)"  # 88-93 air temperature x10, quality
    r"([+-]\d{4})(.)"  # 94-99 dew point x10, quality
    r"(\d{5})(.)",  # 100-105 sea level pressure x10, quality
    re.ASCII | re.DOTALL,
)

UTC = timezone.utc
_ONE_DAY = timedelta(days=1)


def decode_fixed(text: str, line_number: int) -> tuple:
    """Decode positions 1-105 of `text` into the leading `IsdRecord` fields (after `line_number`).

    Raises `IsdLineError` when a digit position holds something else or the date/time is impossible.
    """
    m = _FIXED.match(text)
    if m is None:
        raise IsdLineError(line_number, "digits", f"control/mandatory section malformed: {_where_bad(text)}")
    (
        _length, usaf, wban, year, month, day, hour, minute, source, lat, lon, report_type, elevation,
        call_letters, qc_process, wind_dir, wind_dir_q, wind_type, wind_speed, wind_speed_q,
        ceiling, ceiling_q, ceiling_det, cavok, vis, vis_q, vis_var, vis_var_q,
        temp, temp_q, dew, dew_q, slp, slp_q,
    ) = m.groups()
    try:
        if hour == "24" and minute == "00":
            time = datetime(int(year), int(month), int(day), tzinfo=UTC) + _ONE_DAY
            time_iso = time.isoformat()
        else:
            time = datetime(int(year), int(month), int(day), int(hour), int(minute), tzinfo=UTC)
            time_iso = f"{year}-{month}-{day}T{hour}:{minute}:00+00:00"  # == time.isoformat(), 10x cheaper
    except ValueError:
        raise IsdLineError(
            line_number, "date", f"impossible date/time {year}-{month}-{day} {hour}:{minute}"
        ) from None
    return (
        f"{usaf}-{wban}",
        usaf,
        wban,
        time,
        time_iso,
        None if source == "9" else source,
        None if lat[1:] == "99999" else int(lat) / 1000,
        None if lon[1:] == "999999" else int(lon) / 1000,
        None if report_type == "99999" else report_type.rstrip(),
        None if elevation[1:] == "9999" else int(elevation),
        None if call_letters == "99999" else (call_letters.strip() or None),
        qc_process,
        None if wind_dir == "999" else int(wind_dir),
        wind_dir_q,
        None if wind_type == "9" else wind_type,
        None if wind_speed == "9999" else int(wind_speed) / 10,
        wind_speed_q,
        None if ceiling == "99999" else int(ceiling),
        ceiling_q,
        None if ceiling_det == "9" else ceiling_det,
        None if cavok == "9" else cavok,
        None if vis == "999999" else int(vis),
        vis_q,
        None if vis_var == "9" else vis_var,
        vis_var_q,
        None if temp[1:] == "9999" else int(temp) / 10,
        temp_q,
        None if dew[1:] == "9999" else int(dew) / 10,
        dew_q,
        None if slp == "99999" else int(slp) / 10,
        slp_q,
    )


# (first position 0-based, last position exclusive, what must be there) for error messages only.
_DIGIT_FIELDS = (
    (0, 4, "total variable characters"), (10, 15, "WBAN"), (15, 23, "date"), (23, 27, "time"),
    (29, 34, "latitude"), (35, 41, "longitude"), (47, 51, "elevation"), (60, 63, "wind direction"),
    (65, 69, "wind speed"), (70, 75, "ceiling height"), (78, 84, "visibility"), (88, 92, "air temperature"),
    (94, 98, "dew point"), (99, 104, "sea level pressure"),
)


def _where_bad(text: str) -> str:
    """Name the first field that breaks the pattern (slow path, only for damaged lines)."""
    if len(text) < FIXED_LENGTH:
        return f"only {len(text)} characters, the fixed part needs {FIXED_LENGTH}"
    for start, end, name in _DIGIT_FIELDS:
        field = text[start:end]
        if not (field.isascii() and field.isdigit()):
            return f"{name} (positions {start + 1}-{end}) is {field!r}, expected digits"
    for pos, name in ((28, "latitude sign"), (34, "longitude sign"), (46, "elevation sign"),
                      (87, "air temperature sign"), (93, "dew point sign")):
        if text[pos] not in "+-":
            return f"{name} (position {pos + 1}) is {text[pos]!r}, expected + or -"
    return f"USAF identifier {text[4:10]!r} (positions 5-10) is not a station identifier"
