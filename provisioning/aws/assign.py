"""Thing names and the station-year each thing replays: the same names and assignment as the local fleet
(`stationdata.stations.assign`), so compose runs either fleet unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fleetcore.manifest import Role
from provisioning.errors import ConfigError
from stationdata import errors as data_errors
from stationdata.stations import assign

# ISD file names: USAF-WBAN-YEAR, optionally .gz
_ISD_NAME = re.compile(r"^(?P<usaf>[0-9A-Z]{6})-(?P<wban>\d{5})-(?P<year>\d{4})(\.gz)?$")


@dataclass(frozen=True)
class PlannedThing:
    thing_name: str
    station_id: str | None
    isd_file: str | None
    role: Role = Role.STATION
    station_name: str | None = None  # catalogue metadata (cached isd-history.csv), for the manifest
    country: str | None = None
    icao: str | None = None

    def metadata(self) -> dict[str, str | None]:
        """The manifest Thing's optional catalogue fields."""
        return {"station_name": self.station_name, "country": self.country, "icao": self.icao}


def isd_files(data_dir: Path | None, count: int) -> list[str | None]:
    """The ISD file name of things 1..count (`stationdata.stations.assign`); None each when there is no data
    (registration does not need the files; the stations do)."""
    if data_dir is None:
        return [None] * count
    try:
        return [sf.path.name for sf in assign(count, Path(data_dir))]
    except data_errors.ConfigError:  # no DATA_DIR or no ISD files in it
        return [None] * count


def station_id_of(isd_file: str) -> str:
    m = _ISD_NAME.match(isd_file)
    if not m:
        raise ConfigError(f"{isd_file!r} is not an ISD file name (USAF-WBAN-YEAR[.gz])")
    return f"{m['usaf']}-{m['wban']}"


def thing_name(prefix: str, index: int) -> str:
    """`<prefix>-1`, `<prefix>-2`, ... as for the local fleet (compose's service defaults use these names)."""
    return f"{prefix}-{index}"


def planned_things(count: int, prefix: str, data_dir: Path | None) -> list[PlannedThing]:
    """`count` things; thing i replays the i-th assigned file (cycling when there are fewer files than things)."""
    if count < 1:
        raise ConfigError(f"--count (FLEET_COUNT) must be at least 1, got {count}")
    from stationdata.station_names import catalogue_metadata, metadata_fields

    meta = catalogue_metadata(Path(data_dir)) if data_dir is not None else {}
    planned = []
    for i, f in enumerate(isd_files(data_dir, count)):
        sid = station_id_of(f) if f else None
        extra = metadata_fields(meta, sid) if sid else {}
        planned.append(PlannedThing(thing_name(prefix, i + 1), sid, f, **extra))  # type: ignore[arg-type]
    return planned
