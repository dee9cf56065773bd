"""Station names for people: catalogue metadata of the fleet's stations, and FLEET_DIR/stations.json.

Registration reads the cached catalogue (DATA_DIR/.catalogue/isd-history.csv, written by `make data` or
`make stations`; never fetched here) and writes `stations.json` beside the manifest, a plain JSON file the
pipeline's dashboard reads without importing provisioning:

    {"version": 1, "stations": {"725300-94846": {"name": "...", "country": "US", "icao": "KORD"}, ...}}

Stations the catalogue lacks (or every station, without a cached catalogue) are absent: names are optional.
"""

from __future__ import annotations

import json
from pathlib import Path

from stationdata.catalogue import Station, by_id
from stationdata.catalogue_store import cached_catalogue
from fleetcore.manifest import Role, Thing

STATION_NAMES_FILE = "stations.json"


def catalogue_metadata(data_dir: Path) -> dict[str, Station]:
    """station_id -> catalogue row, from the cached catalogue; empty without one."""
    stations = cached_catalogue(data_dir)
    return by_id(stations) if stations else {}


def metadata_fields(meta: dict[str, Station], station_id: str) -> dict[str, str | None]:
    """The manifest's optional station_name, country and icao of `station_id` (None each when unknown)."""
    s = meta.get(station_id)
    if s is None:
        return {"station_name": None, "country": None, "icao": None}
    return {"station_name": s.name or None, "country": s.country, "icao": s.icao}


def render_station_names(things: list[Thing]) -> str:
    """stations.json for the stations among `things` that have a name."""
    stations = {t.station_id: {"name": t.station_name, "country": t.country, "icao": t.icao}
                for t in things if t.role == Role.STATION and t.station_id and t.station_name}
    return json.dumps({"version": 1, "stations": dict(sorted(stations.items()))}, indent=2) + "\n"


def station_names_path(fleet_dir: Path) -> Path:
    return Path(fleet_dir) / STATION_NAMES_FILE


def write_station_names(fleet_dir: Path, things: list[Thing], data_dir: Path) -> Path:
    """Write stations.json for `things`, filling names the manifest lacks from the cached catalogue (AWS fleets)."""
    meta = catalogue_metadata(data_dir)
    filled = [t if t.station_name or not t.station_id else t.model_copy(update=metadata_fields(meta, t.station_id))
              for t in things]
    path = station_names_path(fleet_dir)
    path.write_text(render_station_names(filled))
    return path
