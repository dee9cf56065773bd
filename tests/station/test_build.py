"""build_message / encode_message: the weather message contract, filled from a decoded record."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from station.build import build_message, encode_message
from isd_decoder import decode_line
from station.message import WeatherMessage
from tests.support.isd_lines import REAL_FIRST_LINE, isd_line

UTC = timezone.utc
SENT = datetime(2026, 11, 27, 21, 0, 0, 123456, tzinfo=UTC)

FULL = isd_line(
    "ADD" + "AA101000095" + "AU116021015" + "AW1711" + "GA1071+007501061" + "GA2081+024001999"
    + "KA1120N-00441" + "MA1100981999999" + "MW1715" + "REMMET005METAR",
    ceiling="00750", ceiling_quality="1", visibility="004800", visibility_quality="1",
    sea_level_pressure="10095", sea_level_pressure_quality="1",
)


def test_message_of_a_full_record_is_valid_and_exact() -> None:
    message = build_message(decode_line(FULL), thing_name="station-723123-14886", seq=42, sent_at=SENT)
    WeatherMessage.model_validate(message)
    assert message["thing_name"] == "station-723123-14886" and message["seq"] == 42
    assert message["sent_at"] == "2026-11-27T21:00:00.123+00:00"
    assert message["weather_station"] == "723123-14886"
    assert (message["latitude"], message["longitude"], message["elevation"]) == (46.154, -89.212, 519)
    assert message["time"] == "2022-01-01T00:15:00+00:00"
    assert message["air_temperature"] == {"value": -10.0, "quality": "1"}
    assert message["sea_level_pressure"] == {"value": 1009.5, "quality": "1"}
    assert message["sky_ceiling"] == {"value": 750, "quality": "1"}
    assert message["visibility_distance"] == {"value": 4800, "quality": "1"}
    assert message["liquid_precip"] == [{"hours": 1, "depth": 0.0, "condition": None, "quality": "5"}]
    assert [(c["code"], c["source"]) for c in message["weather_condition"]] == [("71", "automated"),
                                                                                 ("71", "manual")]
    assert message["weather_condition"][0]["present_weather_condition"] == "Snow, slight"
    assert message["weather_occurrence"][0]["precipitation"] == "Rain (RA)"
    assert [layer["cloud_type"] for layer in message["sky_cover_condition"]] == ["Stratocumulus", None]
    assert message["sky_cover_condition"][1]["coverage_fraction"] == 1.0
    assert message["extreme_temperature"] == [{"hours": 12.0, "kind": "min", "code": "N", "estimated": False,
                                               "value": -4.4, "quality": "1"}]


def test_missing_values_are_null() -> None:
    message = build_message(decode_line(REAL_FIRST_LINE), thing_name="t", seq=0, sent_at=SENT)
    WeatherMessage.model_validate(message)
    assert message["sea_level_pressure"] == {"value": None, "quality": "9"}
    assert message["sky_ceiling"]["value"] is None and message["visibility_distance"]["value"] is None
    encoded = encode_message(message)
    assert b"NaN" not in encoded and b"99999" not in encoded


def test_time_override_for_shifted_replay() -> None:
    record = decode_line(REAL_FIRST_LINE)
    shifted = datetime(2026, 11, 27, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    message = build_message(record, thing_name="t", seq=1, sent_at=SENT, time=shifted)
    assert message["time"] == "2026-11-27T10:00:00+00:00"
    naive = build_message(record, thing_name="t", seq=1, sent_at=datetime(2026, 1, 1), time=datetime(2026, 1, 1))
    assert naive["time"] == "2026-01-01T00:00:00+00:00" and naive["sent_at"] == "2026-01-01T00:00:00.000+00:00"
    paris = datetime(2026, 1, 1, 1, 0, 0, 999999, tzinfo=timezone(timedelta(hours=1)))
    assert build_message(record, thing_name="t", seq=1, sent_at=paris)["sent_at"] == "2026-01-01T00:00:00.999+00:00"


def test_encoding_is_compact_json_that_round_trips() -> None:
    message = build_message(decode_line(FULL), thing_name="t", seq=3, sent_at=SENT)
    encoded = encode_message(message)
    assert isinstance(encoded, bytes)
    assert encoded == json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(encoded) == message
    WeatherMessage.model_validate_json(encoded)


def test_messages_do_not_share_mutable_parts() -> None:
    record = decode_line(FULL)
    first = build_message(record, thing_name="t", seq=1, sent_at=SENT)
    first["sky_cover_condition"][0]["cloud_type"] = "changed"
    first["weather_condition"].clear()
    second = build_message(decode_line(FULL), thing_name="t", seq=2, sent_at=SENT)
    assert second["sky_cover_condition"][0]["cloud_type"] == "Stratocumulus"
    assert len(second["weather_condition"]) == 2
