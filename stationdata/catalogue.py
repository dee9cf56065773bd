"""The NOAA ISD station catalogue (`isd-history.csv`): parsing and selection.

The file NCEI publishes (and the `noaa-isd-pds` bucket copies) is a quoted CSV whose header is
`"USAF","WBAN","STATION NAME","CTRY","STATE","ICAO","LAT","LON","ELEV(M)","BEGIN","END"`: USAF may hold a letter
(e.g. A00002), CTRY is the FIPS country code (FR, UK, US...), STATE only for US stations, LAT/LON in decimal
degrees, ELEV(M) in metres, BEGIN/END the period of record (YYYYMMDD; there may be gaps inside it).

Invariants: a Station's position is None when the catalogue has none, or gives 0,0 (NCEI's placeholder for
"unknown"); its elevation is None when absent or -999 (NCEI's missing value). Selection keeps catalogue order,
except around a point, where the nearest stations come first.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from stationdata.errors import CatalogueError

CATALOGUE_NAME = "isd-history.csv"
COLUMNS = ("USAF", "WBAN", "STATION NAME", "CTRY", "STATE", "ICAO", "LAT", "LON", "ELEV(M)", "BEGIN", "END")
EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
MISSING_ELEVATION = -999.0


@dataclass(frozen=True)
class Station:
    """One row of the catalogue."""

    usaf: str
    wban: str
    name: str
    country: str | None
    state: str | None
    icao: str | None
    latitude: float | None
    longitude: float | None
    elevation: float | None
    begin: date | None
    end: date | None

    @property
    def station_id(self) -> str:
        """'USAF-WBAN', as in the file names (USAF-WBAN-YEAR.gz) and the messages' weather_station."""
        return f"{self.usaf}-{self.wban}"

    def covers(self, year: int) -> bool:
        """True when the period of record overlaps `year` (an unknown bound does not exclude it)."""
        return ((self.begin is None or self.begin.year <= year) and (self.end is None or self.end.year >= year))

    def as_dict(self) -> dict:
        """JSON-ready view (dates as ISO strings)."""
        return {"station_id": self.station_id, "usaf": self.usaf, "wban": self.wban, "name": self.name,
                "country": self.country, "state": self.state, "icao": self.icao, "latitude": self.latitude,
                "longitude": self.longitude, "elevation": self.elevation,
                "begin": self.begin.isoformat() if self.begin else None,
                "end": self.end.isoformat() if self.end else None}


def _float(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> date | None:
    text = text.strip()
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def parse_catalogue(text: str, source: str = CATALOGUE_NAME) -> list[Station]:
    """Every row of an isd-history.csv text; CatalogueError (naming `source`) when the header is not the catalogue's."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header[: len(COLUMNS)]) != COLUMNS:
        raise CatalogueError(f"{source} is not an ISD station catalogue (expected the header "
                             f"{','.join(COLUMNS)}); fetch it again with `make stations REFRESH=1`")
    stations: list[Station] = []
    for row in reader:
        if len(row) < len(COLUMNS) or not row[0].strip():
            continue
        usaf, wban, name, ctry, state, icao, lat, lon, elev, begin, end = (c.strip() for c in row[: len(COLUMNS)])
        latitude, longitude = _float(lat), _float(lon)
        if latitude == 0.0 and longitude == 0.0:
            latitude = longitude = None
        elevation = _float(elev)
        if elevation is not None and elevation <= MISSING_ELEVATION:
            elevation = None
        stations.append(Station(usaf=usaf, wban=wban, name=name, country=ctry or None, state=state or None,
                                icao=icao or None, latitude=latitude, longitude=longitude, elevation=elevation,
                                begin=_date(begin), end=_date(end)))
    return stations


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points (degrees), in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class BoundingBox:
    """South-west and north-east corners; west > east means the box crosses the 180th meridian."""

    south: float
    west: float
    north: float
    east: float

    def __post_init__(self) -> None:
        if not (-90 <= self.south <= self.north <= 90) or not (-180 <= self.west <= 180 and -180 <= self.east <= 180):
            raise ValueError(f"bounding box {self.south},{self.west},{self.north},{self.east} is not "
                             "SOUTH,WEST,NORTH,EAST in degrees (south <= north)")

    def contains(self, lat: float, lon: float) -> bool:
        if not self.south <= lat <= self.north:
            return False
        return self.west <= lon <= self.east if self.west <= self.east else (lon >= self.west or lon <= self.east)


@dataclass(frozen=True)
class Around:
    """A point and a radius (km)."""

    latitude: float
    longitude: float
    radius_km: float

    def __post_init__(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180) or self.radius_km <= 0:
            raise ValueError(f"point {self.latitude},{self.longitude} radius {self.radius_km} km: latitude "
                             "-90..90, longitude -180..180, radius above 0")

    def distance_km(self, station: Station) -> float | None:
        if station.latitude is None or station.longitude is None:
            return None
        return haversine_km(self.latitude, self.longitude, station.latitude, station.longitude)


@dataclass(frozen=True)
class Selection:
    """What to keep; every criterion given must hold (countries, states, ICAO ids and station ids: any of each)."""

    countries: frozenset[str] = field(default_factory=frozenset)
    states: frozenset[str] = field(default_factory=frozenset)
    icao: frozenset[str] = field(default_factory=frozenset)
    station_ids: frozenset[str] = field(default_factory=frozenset)
    bbox: BoundingBox | None = None
    around: Around | None = None
    year: int | None = None
    limit: int | None = None

    def is_empty(self) -> bool:
        """True when nothing but perhaps a year or a limit is asked (no station criterion)."""
        return not (self.countries or self.states or self.icao or self.station_ids or self.bbox or self.around)

    def matches(self, s: Station) -> bool:
        if self.countries and (s.country or "").upper() not in self.countries:
            return False
        if self.states and (s.state or "").upper() not in self.states:
            return False
        if self.icao and (s.icao or "").upper() not in self.icao:
            return False
        if self.station_ids and s.station_id.upper() not in self.station_ids:
            return False
        if self.year is not None and not s.covers(self.year):
            return False
        if self.bbox is not None and (s.latitude is None or s.longitude is None
                                      or not self.bbox.contains(s.latitude, s.longitude)):
            return False
        if self.around is not None:
            d = self.around.distance_km(s)
            if d is None or d > self.around.radius_km:
                return False
        return True


def selection(*, countries: Iterable[str] = (), states: Iterable[str] = (), icao: Iterable[str] = (),
              station_ids: Iterable[str] = (), bbox: BoundingBox | None = None, around: Around | None = None,
              year: int | None = None, limit: int | None = None) -> Selection:
    """A Selection with codes upper-cased (the catalogue's case)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be 1 or more, not {limit}")
    up = lambda values: frozenset(v.strip().upper() for v in values if v.strip())  # noqa: E731
    return Selection(countries=up(countries), states=up(states), icao=up(icao), station_ids=up(station_ids),
                     bbox=bbox, around=around, year=year, limit=limit)


def select(stations: Sequence[Station], sel: Selection) -> list[Station]:
    """The stations matching `sel`: catalogue order, nearest first around a point, at most `sel.limit`."""
    chosen = [s for s in stations if sel.matches(s)]
    if sel.around is not None:
        chosen.sort(key=lambda s: sel.around.distance_km(s) or 0.0)  # type: ignore[union-attr]
    return chosen[: sel.limit] if sel.limit else chosen


def by_id(stations: Iterable[Station]) -> dict[str, Station]:
    """station_id -> Station; when an id repeats, the row whose period of record ends last wins."""
    out: dict[str, Station] = {}
    for s in stations:
        old = out.get(s.station_id)
        if old is None or (s.end or date.min) >= (old.end or date.min):
            out[s.station_id] = s
    return out
