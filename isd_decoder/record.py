"""`IsdRecord`: one decoded ISD line (control, mandatory and additional-data sections)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from isd_decoder.additional import split_eqd, split_qnn


@dataclass(slots=True)
class IsdRecord:
    """One ISD observation, in SI units, every missing sentinel as None.

    Units follow the format document after scaling: degrees (lat/lon), metres (elevation, ceiling,
    visibility), m/s (wind), degrees Celsius (temperatures), hPa (pressure). Quality codes are kept as the
    one-character strings of the file. `time_iso` is `time.isoformat()`, kept because every message needs it.

    `groups` holds the decoded additional-data groups by identifier (e.g. 'GA1' -> mapping), in file order;
    each is a read-only mapping shared by every record holding the same group text (copy it to change it);
    `skipped` holds every other known group as raw text; `unknown_identifier` / `unparsed` hold the first
    identifier missing from the length table and the raw remainder of the line from it on (decoding of the
    record stops there). `remarks` is the REM section as (remark type, text) pairs; `eqd_text` and `qnn_text`
    hold the element-quality and original-NCDC-observation sections (items of 16 and 11 characters), split on
    access by the `eqd` and `qnn` properties.

    `message_lists` holds the entries of the weather message's five arrays (liquid_precip, weather_condition,
    weather_occurrence, sky_cover_condition, extreme_temperature), in file order; like `groups` they are
    shared between records and must be copied before being changed (`build_message` does).
    """

    line_number: int
    station_id: str
    usaf: str
    wban: str
    time: datetime
    time_iso: str
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
    groups: dict[str, Mapping[str, object]]
    skipped: dict[str, str]
    unknown_identifier: str | None
    unparsed: str | None
    remarks: list[tuple[str, str]]
    eqd_text: str
    qnn_text: str
    message_lists: tuple[list[dict], ...]
    raw: str

    @property
    def eqd(self) -> list[tuple[str, str, str, str]]:
        """The EQD section: (identifier, original value, reason code, parameter code) per element."""
        return split_eqd(self.eqd_text)

    @property
    def qnn(self) -> list[tuple[str, str, str]]:
        """The QNN section: (element identifier, flags, original value) per element."""
        return split_qnn(self.qnn_text)
