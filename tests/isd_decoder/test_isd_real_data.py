"""Every real ISD file decodes with no error, every additional-data section is consumed exactly, and no
message holds NaN or a missing-value sentinel."""

from __future__ import annotations

import gzip
import math
from datetime import datetime, timezone
from pathlib import Path

import pytest

from station.build import build_message, encode_message
from isd_decoder import GROUP_LENGTHS, IsdRecord, read_isd
from station.message import WeatherMessage
from tests.conftest import isd_files

FILES = isd_files()
SENT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def consumed(record: IsdRecord) -> int:
    """Characters of the variable part accounted for by what was decoded."""
    raw = record.raw
    used = 3 if raw.startswith("ADD", 105) else 0
    used += sum(3 + GROUP_LENGTHS[ident] for ident in (*record.groups, *record.skipped))
    if record.remarks:
        used += 3 + sum(6 + len(text) for _, text in record.remarks)
    if record.eqd:
        used += 3 + 16 * len(record.eqd)
    if record.qnn:
        used += 3 + 11 * len(record.qnn)
    return used


# What each missing-value sentinel of the format document would become after scaling, by message field.
SENTINELS: dict[str, set[float]] = {
    "latitude": {99.999}, "longitude": {999.999}, "elevation": {9999},
    "air_temperature": {999.9}, "dew_point": {999.9}, "wind_speed": {999.9}, "wind_direction": {999},
    "sea_level_pressure": {9999.9}, "sky_ceiling": {99999}, "visibility_distance": {999999},
    "liquid_precip": {99, 999.9}, "sky_cover_condition": {99999, 99}, "extreme_temperature": {99.9, 999.9},
}


MEASUREMENTS = ("air_temperature", "dew_point", "wind_speed", "wind_direction", "sea_level_pressure", "sky_ceiling",
                "visibility_distance")
LISTS = {"liquid_precip": ("hours", "depth"), "sky_cover_condition": ("coverage", "base_height"),
         "extreme_temperature": ("hours", "value")}


def bad_numbers(message: dict) -> list[tuple[str, float]]:
    """Every NaN or sentinel among the numbers of a message (paths like 'air_temperature')."""
    found = [(f, message[f]) for f in ("latitude", "longitude", "elevation")]
    found += [(f, message[f]["value"]) for f in MEASUREMENTS]
    found += [(f, entry[k]) for f, keys in LISTS.items() for entry in message[f] for k in keys]
    return [
        (field, value) for field, value in found
        if value is not None and (math.isnan(value) or value in SENTINELS.get(field, ()))
    ]


@pytest.mark.parametrize("path", FILES or [None], ids=[p.name for p in FILES] or ["no-data"])
def test_real_file_decodes_exactly(data_dir: Path, path: Path | None) -> None:
    assert path is not None
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        line_count = sum(1 for _ in f)
    validate = WeatherMessage.model_validate_json
    records = 0
    shapes: set[tuple] = set()
    with read_isd(path) as reader:
        for record in reader:
            records += 1
            assert record.unknown_identifier is None, (record.line_number, record.unparsed)
            assert len(record.groups) + len(record.skipped) == sum(
                1 for _ in _identifiers(record)
            ), f"line {record.line_number}: an identifier occurs twice"
            assert consumed(record) == len(record.raw) - 105, f"line {record.line_number} not consumed exactly"
            message = build_message(record, thing_name="t", seq=records, sent_at=SENT)
            bad = bad_numbers(message)
            assert not bad, f"line {record.line_number}: NaN or sentinel values {bad}"
            # the contract: every 10th message, and every message of a shape not validated yet
            shape = (tuple(map(len, record.message_lists)), tuple(message[f]["value"] is None for f in MEASUREMENTS))
            if records % 10 == 0 or shape not in shapes:
                shapes.add(shape)
                validate(encode_message(message))
    assert reader.errors == []
    assert reader.stats.skipped == 0 and not reader.stats.unknown_identifiers
    assert records == line_count == reader.stats.lines


def _identifiers(record: IsdRecord):  # type: ignore[no-untyped-def]
    """Walk the ADD section again by the length table and yield every identifier (duplicates included)."""
    raw = record.raw
    pos = 108 if raw.startswith("ADD", 105) else len(raw)
    while pos < len(raw) and raw[pos : pos + 3] not in ("REM", "EQD", "QNN"):
        ident = raw[pos : pos + 3]
        yield ident
        pos += 3 + GROUP_LENGTHS[ident]


def test_lab_station_values_spot_check(isd_sample) -> None:  # type: ignore[no-untyped-def]
    """Values read by hand from 030910-99999-2022 line 1 (FM-12 SYNOP, 2022-01-01 00:00)."""
    path = isd_sample("030910-99999-2022.gz")
    record = next(iter(read_isd(path)))
    message = build_message(record, thing_name="t", seq=0, sent_at=SENT)
    assert message["weather_station"] == "030910-99999"
    assert message["time"] == "2022-01-01T00:00:00+00:00"
    assert message["air_temperature"] == {"value": 6.3, "quality": "1"}
    assert message["dew_point"] == {"value": 5.9, "quality": "1"}
    assert message["sea_level_pressure"] == {"value": 1009.5, "quality": "1"}
    assert message["visibility_distance"] == {"value": 10000, "quality": "1"}
    assert message["liquid_precip"] == [{"hours": 6, "depth": 0.0, "condition": "2", "quality": "1"}]
    assert message["weather_condition"] == [
        {"present_weather_condition": "Rain (not freezing), at the station during the preceding hour, but not at "
         "the time of observation", "code": "23", "source": "automated", "quality": "1"}
    ]
    assert message["sky_cover_condition"] == [
        {"coverage": 8, "coverage_fraction": 1.0, "coverage_code": "08", "base_height": 2400, "cloud_type": None,
         "cloud_type_code": None, "quality": "1", "base_height_quality": "1", "cloud_type_quality": "9"}
    ]
    assert record.remarks[0][0] == "SYN"
