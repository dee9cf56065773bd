"""The station catalogue: parsing and selection on the committed excerpt of the real isd-history.csv, the
local cache with its fetch date, and `python -m provisioning stations`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from stationdata.catalogue import Around, BoundingBox, by_id, haversine_km, parse_catalogue, select, selection
from stationdata.catalogue_store import cache_path, cached_catalogue, load_catalogue
from stationdata.data_settings import DataSettings
from stationdata.errors import CatalogueError
from stationdata.sources import NceiSource
from tests.support.isd_server import CATALOGUE_EXCERPT, REPO, IsdServer, closed_port

STATIONS = parse_catalogue(CATALOGUE_EXCERPT.read_text())


def ids(stations) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.station_id for s in stations]


def test_parse_every_row_and_field() -> None:
    assert len(STATIONS) == 45
    ord_ = by_id(STATIONS)["725300-94846"]
    assert (ord_.name, ord_.country, ord_.state, ord_.icao) == ("CHICAGO O'HARE INTERNATIONAL AIRPORT", "US", "IL",
                                                                 "KORD")
    assert (ord_.latitude, ord_.longitude, ord_.elevation) == (41.96, -87.932, 204.8)
    assert (ord_.begin, ord_.end) == (date(1946, 10, 1), date(2025, 5, 28))
    assert by_id(STATIONS)["A00002-53928"].usaf == "A00002"


def test_placeholders_are_none() -> None:
    s = by_id(STATIONS)
    assert (s["070640-99999"].latitude, s["070640-99999"].longitude, s["070640-99999"].elevation) == (None,) * 3
    assert s["010000-99999"].latitude is None and s["010120-99999"].name == "" and s["010120-99999"].country is None
    assert s["007018-99999"].latitude is None  # WXPOD at 0,0


def test_duplicate_ids_keep_the_latest_period() -> None:
    assert by_id(STATIONS)["723123-99999"].end == date(2005, 12, 31)
    assert by_id(STATIONS)["723123-14886"].name == "Kings Land O' Lakes Airport"


def test_not_a_catalogue_names_the_source() -> None:
    with pytest.raises(CatalogueError, match="weird.csv is not an ISD station catalogue"):
        parse_catalogue('"A","B"\n"1","2"\n', "weird.csv")


def test_country_and_year() -> None:
    fr_2023 = select(STATIONS, selection(countries=["fr"], year=2023))
    assert "071480-99999" not in ids(fr_2023)  # Bretigny closed in 2005
    assert "071540-99999" in ids(fr_2023) and "070640-99999" in ids(fr_2023)  # ends 2024 / 2023-12-07
    assert all(s.country == "FR" for s in fr_2023) and len(fr_2023) == 11
    assert len(select(STATIONS, selection(countries=["FR"], year=2024))) == 10


def test_state_icao_and_station_id() -> None:
    assert ids(select(STATIONS, selection(states=["wi"]))) == ["723123-14886", "723123-99999", "726400-14839",
                                                               "726410-14837", "726450-14898"]
    assert ids(select(STATIONS, selection(icao=["KORD", "egpd"]))) == ["030910-99999", "725300-94846"]
    assert ids(select(STATIONS, selection(station_ids=["723123-14886"], year=2022))) == ["723123-14886"]
    assert select(STATIONS, selection(station_ids=["723123-99999"], year=2022)) == []


def test_bounding_box_great_lakes_and_antimeridian() -> None:
    lakes = select(STATIONS, selection(bbox=BoundingBox(41.0, -93.0, 47.0, -76.0), states=["MI", "OH"]))
    assert ids(lakes) == ["725240-14820", "725360-94830", "725370-94847", "725390-14836"]
    assert BoundingBox(60, 170, 70, -170).contains(65, 179.5) and not BoundingBox(60, 170, 70, -170).contains(65, 0)
    with pytest.raises(ValueError):
        BoundingBox(50, 0, 40, 10)


def test_radius_sorts_nearest_first_and_limit() -> None:
    near = select(STATIONS, selection(around=Around(41.8781, -87.6298, 150), limit=3))
    assert ids(near) == ["725340-14819", "725300-94846", "726400-14839"]
    assert all(Around(41.8781, -87.6298, 150).distance_km(s) <= 150 for s in near)
    everything_near = select(STATIONS, selection(around=Around(41.8781, -87.6298, 150)))
    assert len(everything_near) == 3  # Madison is 198 km away


def test_haversine_known_distance() -> None:
    # Paris-Orly to London-Heathrow: about 365 km along the great circle.
    assert haversine_km(48.725, 2.359, 51.478, -0.461) == pytest.approx(365, abs=5)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(20015, abs=2)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        selection(countries=["FR"], limit=0)


# --- cache -------------------------------------------------------------------------------------------------

def settings(**kw: object) -> DataSettings:
    return DataSettings(**{"catalogue_max_age_days": 30, **kw})  # type: ignore[arg-type]


def test_cache_fetches_once_then_reuses_until_old(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "isd-history.csv").write_bytes(CATALOGUE_EXCERPT.read_bytes())
    with IsdServer(root) as server:
        sources = [NceiSource(server.base_url, 5)]
        first = load_catalogue(tmp_path / "d", settings(), sources=sources)
        assert len(first.stations) == 45 and first.path == cache_path(tmp_path / "d")
        assert first.fetched_at is not None and first.origin.endswith("/isd-history.csv")
        load_catalogue(tmp_path / "d", settings(), sources=sources)
        assert server.requests["isd-history.csv"] == 1
        load_catalogue(tmp_path / "d", settings(), sources=sources, refresh=True)
        assert server.requests["isd-history.csv"] == 2
        later = datetime.now(timezone.utc) + timedelta(days=31)
        load_catalogue(tmp_path / "d", settings(), sources=sources, now=later)
        assert server.requests["isd-history.csv"] == 3
    assert cached_catalogue(tmp_path / "d") is not None
    assert not list((tmp_path / "d" / ".catalogue").glob(".*.part"))


def test_stale_cache_is_used_when_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cache_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(CATALOGUE_EXCERPT.read_bytes())
    old = (datetime.now(timezone.utc) - timedelta(days=90)).timestamp()
    os.utime(path, (old, old))
    cat = load_catalogue(tmp_path, settings(), sources=[NceiSource(f"http://127.0.0.1:{closed_port()}", 5)])
    assert len(cat.stations) == 45 and "warning" in capsys.readouterr().err


def test_no_copy_and_offline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="No internet access.*--catalogue FILE"):
        load_catalogue(tmp_path, settings(), sources=[NceiSource(f"http://127.0.0.1:{closed_port()}", 5)])
    assert not (tmp_path / ".catalogue" / "isd-history.csv").exists()


def test_html_error_page_is_not_cached_as_a_catalogue(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "isd-history.csv").write_text("<html>maintenance</html>")
    with IsdServer(root) as server, pytest.raises(CatalogueError):
        load_catalogue(tmp_path / "d", settings(), sources=[NceiSource(server.base_url, 5)])
    assert not cache_path(tmp_path / "d").exists()


# --- CLI ---------------------------------------------------------------------------------------------------

def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stationdata", *args], cwd=REPO, capture_output=True, text=True,
                          env=env or os.environ.copy(), timeout=60)


def test_stations_cli_table_and_json() -> None:
    table = run_cli("stations", "--catalogue", str(CATALOGUE_EXCERPT), "--country", "FR", "--year", "2023",
                    "--limit", "3")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("STATION") and len(lines) == 4 and "LESQUIN" in lines[1]
    assert "3 of 45 stations" in table.stderr
    js = run_cli("stations", "--catalogue", str(CATALOGUE_EXCERPT), "--near", "41.8781,-87.6298", "--radius",
                 "30", "--json")
    docs = json.loads(js.stdout)
    assert [d["station_id"] for d in docs] == ["725340-14819", "725300-94846"]
    assert docs[0]["distance_km"] == pytest.approx(14.9, abs=0.5) and docs[1]["icao"] == "KORD"


def test_stations_cli_fetches_through_ncei_base_url(tmp_path: Path) -> None:
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "isd-history.csv").write_bytes(CATALOGUE_EXCERPT.read_bytes())
    with IsdServer(root) as server:
        env = {**os.environ, "NCEI_BASE_URL": server.base_url, "DATA_SOURCE": "ncei", "DATA_FALLBACK": "false"}
        out = run_cli("stations", "--data-dir", str(tmp_path / "d"), "--icao", "EHGG", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert [d["name"] for d in json.loads(out.stdout)] == ["EELDE"]
    assert cache_path(tmp_path / "d").is_file() and (tmp_path / "d" / ".catalogue" / "isd-history.json").is_file()


def test_bad_bbox_is_a_usage_error() -> None:
    out = run_cli("stations", "--catalogue", str(CATALOGUE_EXCERPT), "--bbox", "1,2,3")
    assert out.returncode == 2 and "SOUTH,WEST,NORTH,EAST" in out.stderr
