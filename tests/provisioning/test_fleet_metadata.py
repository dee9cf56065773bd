"""Catalogue metadata in the fleet: distinct stations first, names in the manifest and stations.json, watch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from stationdata.catalogue_store import cache_path
from fleetcore.manifest import load_manifest
from provisioning.register_local import LocalFleetRequest, register_local, unregister_local
from stationdata.stations import LAB_STATION_FILES, assign
from provisioning.watch import _describe
from tests.support.isd_server import CATALOGUE_EXCERPT


def isd_names(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"\x1f\x8b stand-in")
    return folder


def test_distinct_stations_before_a_second_year(tmp_path: Path) -> None:
    folder = isd_names(tmp_path / "isd", "725300-94846-2021.gz", "725300-94846-2022.gz", "725340-14819-2022.gz",
                       "030910-99999-2022.gz", "030910-99999-2021.gz")
    assert [f.path.name for f in assign(6, folder)] == [
        "030910-99999-2022.gz",                          # the lab's file leads
        "725300-94846-2021.gz", "725340-14819-2022.gz",   # every other station once
        "030910-99999-2021.gz", "725300-94846-2022.gz",  # then second years
        "030910-99999-2022.gz",                          # and only then cycling
    ]


def test_manifest_and_stations_json_carry_catalogue_names(tmp_path: Path) -> None:
    data = isd_names(tmp_path / "isd", *(f"{s}.gz" for s in LAB_STATION_FILES), "725300-94846-1983")
    cache = cache_path(data)
    cache.parent.mkdir()
    shutil.copyfile(CATALOGUE_EXCERPT, cache)
    register_local(LocalFleetRequest(fleet_dir=tmp_path / "fleet", data_dir=data, count=6))
    stations = load_manifest(tmp_path / "fleet").stations()
    assert [(t.station_id, t.station_name, t.country, t.icao) for t in stations][:2] == [
        ("030910-99999", "DYCE", "UK", "EGPD"), ("061100-99999", "SKRYDSTRUP", "DA", "EKSP")]
    assert stations[5].station_name == "CHICAGO O'HARE INTERNATIONAL AIRPORT"
    names = json.loads((tmp_path / "fleet" / "stations.json").read_text())
    assert names["stations"]["723123-14886"] == {"name": "Kings Land O' Lakes Airport", "country": "US",
                                                 "icao": "KLNL"}
    assert len(names["stations"]) == 6
    unregister_local(tmp_path / "fleet")
    assert not (tmp_path / "fleet" / "stations.json").exists()


def test_without_a_cached_catalogue_names_are_absent(tmp_path: Path) -> None:
    data = isd_names(tmp_path / "isd", *(f"{s}.gz" for s in LAB_STATION_FILES))
    register_local(LocalFleetRequest(fleet_dir=tmp_path / "fleet", data_dir=data))
    assert all(t.station_name is None for t in load_manifest(tmp_path / "fleet").stations())
    assert json.loads((tmp_path / "fleet" / "stations.json").read_text()) == {"version": 1, "stations": {}}


def test_watch_line_shows_the_station_name() -> None:
    payload = json.dumps({"thing_name": "weather-station-1", "seq": 3, "weather_station": "030910-99999",
                          "time": "2022-01-01T00:00:00+00:00", "air_temperature": {"value": 6.3}}).encode()
    line = _describe("sensor/weather", payload, {"030910-99999": "DYCE"})
    assert "station=030910-99999 (DYCE)" in line
    assert "station=030910-99999 time" in _describe("sensor/weather", payload, {})


def test_aws_planned_things_carry_catalogue_names(tmp_path: Path) -> None:
    from provisioning.aws.assign import planned_things

    data = isd_names(tmp_path / "isd", *(f"{s}.gz" for s in LAB_STATION_FILES))
    assert planned_things(2, "ws", data)[0].metadata() == {"station_name": None, "country": None, "icao": None}
    cache = cache_path(data)
    cache.parent.mkdir()
    shutil.copyfile(CATALOGUE_EXCERPT, cache)
    planned = planned_things(2, "ws", data)
    assert planned[1].metadata() == {"station_name": "SKRYDSTRUP", "country": "DA", "icao": "EKSP"}
