"""`IsdRecord`: one decoded ISD line (control, mandatory and additional-data sections)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class IsdRecord:
    """One ISD observation, in SI units, every missing sentinel as None.

    Units follow the format document after scaling: degrees (lat/lon), metres (elevation, ceiling,
    visibility), m/s (wind), degrees Celsius (temperatures), hPa (pressure). Quality codes are kept as the
    one-character strings of the file.

    `groups` holds the decoded additional-data groups by identifier (e.g. 'GA1' -> dict), in file order;
    `skipped` holds every other known group as raw text; `unknown_identifier` / `unparsed` hold the first
    identifier missing from the length table and the raw remainder of the line from it on (decoding of the
    record stops there). `remarks` is the REM section as (remark type, text) pairs, `eqd` the element-quality
    section as (identifier, original value, reason code, parameter code) tuples, `qnn` the original NCDC
    observation section as (element identifier, flags, value) tuples.
    """

    line_number: int
    station_id: str
    usaf: str
    wban: str
    time: datetime
    source: str | None
    latitude: float | None
    longitude: float | None
    report_type: str | None
    elevation: int | None
    call_letters: str | None
    qc_process: str
    wind_direction: int | None
    wind_direction_quality: str
    wind_type: str | None
    wind_speed: float | None
    wind_speed_quality: str
    ceiling: int | None
    ceiling_quality: str
    ceiling_determination: str | None
    cavok: str | None
    visibility: int | None
    visibility_quality: str
    visibility_variability: str | None
    visibility_variability_quality: str
    air_temperature: float | None
    air_temperature_quality: str
    dew_point: float | None
    dew_point_quality: str
    sea_level_pressure: float | None
    sea_level_pressure_quality: str
    groups: dict[str, dict]
    skipped: dict[str, str]
    unknown_identifier: str | None
    unparsed: str | None
    remarks: list[tuple[str, str]]
    eqd: list[tuple[str, str, str, str]]
    qnn: list[tuple[str, str, str]]
    raw: str
