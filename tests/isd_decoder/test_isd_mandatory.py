"""Control and mandatory sections (positions 1-105): positions, scaling, sentinels, 2400, negative values."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from isd_decoder import decode_line
from tests.support.isd_lines import REAL_FIRST_LINE, isd_line

UTC = timezone.utc


def test_real_first_line_of_klnl() -> None:
    r = decode_line(REAL_FIRST_LINE.encode(), 7)
    assert r.line_number == 7
    assert (r.usaf, r.wban, r.station_id) == ("723123", "14886", "723123-14886")
    assert r.time == datetime(2022, 1, 1, 0, 15, tzinfo=UTC)
    assert r.source == "4"
    assert (r.latitude, r.longitude, r.elevation) == (46.154, -89.212, 519)
    assert r.report_type == "FM-15"
    assert r.call_letters is None
    assert r.qc_process == "V020"
    assert (r.wind_direction, r.wind_direction_quality, r.wind_type) == (330, "1", "N")
    assert (r.wind_speed, r.wind_speed_quality) == (3.1, "1")
    assert (r.ceiling, r.ceiling_quality, r.ceiling_determination, r.cavok) == (None, "9", None, "N")
    assert (r.visibility, r.visibility_quality, r.visibility_variability) == (None, "9", None)
    assert r.visibility_variability_quality == "9"
    assert (r.air_temperature, r.air_temperature_quality) == (-10.0, "1")
    assert (r.dew_point, r.dew_point_quality) == (-12.2, "1")
    assert (r.sea_level_pressure, r.sea_level_pressure_quality) == (None, "9")
    assert r.raw == REAL_FIRST_LINE


def test_every_value_present_and_scaled() -> None:
    r = decode_line(
        isd_line(
            usaf="725300", wban="94846", date="19830101", time="0000", source="C", latitude="+41983",
            longitude="-087900", report_type="SAO  ", elevation="+0201", call_letters="ORD  ", qc_process="V020",
            wind_direction="250", wind_direction_quality="5", wind_type="N", wind_speed="0046",
            wind_speed_quality="5", ceiling="22000", ceiling_quality="5", ceiling_determination="9", cavok="N",
            visibility="024000", visibility_quality="5", visibility_variability="N", visibility_variability_quality="1",
            air_temperature="+0006", air_temperature_quality="5", dew_point="-0056", dew_point_quality="5",
            sea_level_pressure="10223", sea_level_pressure_quality="5",
        )
    )
    assert r.station_id == "725300-94846"
    assert r.report_type == "SAO"
    assert r.call_letters == "ORD"
    assert (r.wind_direction, r.wind_speed) == (250, 4.6)
    assert r.ceiling == 22000  # 22000 = unlimited, a real value, not a sentinel
    assert (r.visibility, r.visibility_variability, r.visibility_variability_quality) == (24000, "N", "1")
    assert (r.air_temperature, r.dew_point) == (0.6, -5.6)
    assert (r.sea_level_pressure, r.sea_level_pressure_quality) == (1022.3, "5")
    assert r.groups == {} and r.remarks == [] and r.unparsed is None


@pytest.mark.parametrize(
    ("field", "sentinel", "attribute"),
    [
        ("latitude", "+99999", "latitude"),
        ("longitude", "+999999", "longitude"),
        ("elevation", "+9999", "elevation"),
        ("report_type", "99999", "report_type"),
        ("call_letters", "99999", "call_letters"),
        ("source", "9", "source"),
        ("wind_direction", "999", "wind_direction"),
        ("wind_type", "9", "wind_type"),
        ("wind_speed", "9999", "wind_speed"),
        ("ceiling", "99999", "ceiling"),
        ("ceiling_determination", "9", "ceiling_determination"),
        ("cavok", "9", "cavok"),
        ("visibility", "999999", "visibility"),
        ("visibility_variability", "9", "visibility_variability"),
        ("air_temperature", "+9999", "air_temperature"),
        ("dew_point", "+9999", "dew_point"),
        ("sea_level_pressure", "99999", "sea_level_pressure"),
    ],
)
def test_sentinels_are_none(field: str, sentinel: str, attribute: str) -> None:
    assert getattr(decode_line(isd_line(**{field: sentinel})), attribute) is None


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"latitude": "-33950"}, "latitude", -33.95),
        ({"longitude": "+151183"}, "longitude", 151.183),
        ({"elevation": "-0028"}, "elevation", -28),
        ({"air_temperature": "-0452"}, "air_temperature", -45.2),
        ({"dew_point": "+0000"}, "dew_point", 0.0),
        ({"wind_speed": "0000", "wind_type": "C"}, "wind_speed", 0.0),
        ({"wind_direction": "000"}, "wind_direction", 0),
        ({"visibility": "000000"}, "visibility", 0),
        ({"ceiling": "00000"}, "ceiling", 0),
        ({"sea_level_pressure": "09999"}, "sea_level_pressure", 999.9),
    ],
)
def test_negative_zero_and_edge_values(fields: dict[str, str], attribute: str, expected: float) -> None:
    assert getattr(decode_line(isd_line(**fields)), attribute) == expected


def test_hour_2400_is_midnight_of_next_day() -> None:
    assert decode_line(isd_line(date="20221231", time="2400")).time == datetime(2023, 1, 1, tzinfo=UTC)
    leap = decode_line(isd_line(date="20200228", time="2400"))
    assert leap.time == datetime(2020, 2, 29, tzinfo=UTC)
    assert leap.time_iso == "2020-02-29T00:00:00+00:00"


def test_time_is_utc_aware() -> None:
    t = decode_line(isd_line(time="2359")).time
    assert t.tzinfo is not None and t.utcoffset().total_seconds() == 0
    assert (t.hour, t.minute) == (23, 59)


def test_usaf_may_start_with_a_letter() -> None:
    assert decode_line(isd_line(usaf="A00001")).station_id == "A00001-14886"


def test_str_and_bytes_and_newlines_decode_alike() -> None:
    a = decode_line(REAL_FIRST_LINE)
    b = decode_line(REAL_FIRST_LINE.encode() + b"\r\n")
    assert a == b
