"""The station-selection flags shared by `provisioning stations` and `provisioning data` (and their make
variables COUNTRY, STATE, BBOX, NEAR, RADIUS, ICAO, STATION_IDS, YEAR, LIMIT)."""

from __future__ import annotations

import argparse

from stationdata.catalogue import Around, BoundingBox, Selection, selection

DEFAULT_RADIUS_KM = 100.0


def _floats(text: str, count: int, what: str) -> list[float]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count:
        raise argparse.ArgumentTypeError(f"{what} needs {count} comma-separated numbers, got {text!r}")
    return values


def bbox_arg(text: str) -> BoundingBox:
    south, west, north, east = _floats(text, 4, "--bbox SOUTH,WEST,NORTH,EAST")
    try:
        return BoundingBox(south, west, north, east)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def point_arg(text: str) -> tuple[float, float]:
    lat, lon = _floats(text, 2, "--near LAT,LON")
    return lat, lon


def _codes(values: list[str] | None) -> list[str]:
    return [c for v in values or [] for c in v.replace(" ", ",").split(",") if c]


def add_selection_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("station selection (every criterion given must hold; repeat or comma-separate codes)")
    g.add_argument("--country", action="append", metavar="CC", help="FIPS country code as in the catalogue, e.g. "
                   "FR, UK, US (make COUNTRY=)")
    g.add_argument("--state", action="append", metavar="ST", help="US state, e.g. IL (make STATE=)")
    g.add_argument("--bbox", type=bbox_arg, metavar="S,W,N,E", help="bounding box in degrees: south, west, north, "
                   "east (west > east crosses the 180th meridian) (make BBOX=)")
    g.add_argument("--near", type=point_arg, metavar="LAT,LON", help="stations around this point, nearest first "
                   "(make NEAR=)")
    g.add_argument("--radius", type=float, default=DEFAULT_RADIUS_KM, metavar="KM",
                   help="radius around --near in km (default %(default)s; make RADIUS=)")
    g.add_argument("--icao", action="append", metavar="CODE", help="ICAO id, e.g. KORD (make ICAO=)")
    g.add_argument("--station", action="append", dest="station_id", metavar="USAF-WBAN",
                   help="station id, e.g. 725300-94846 (make STATION_IDS=)")
    g.add_argument("--year", type=int, metavar="YYYY", help="a year the station's period of record must cover; "
                   "for `data`, the year to download (make YEAR=)")
    g.add_argument("--limit", type=int, metavar="N", help="at most N stations (make LIMIT=)")


def selection_from_args(args: argparse.Namespace) -> Selection:
    """The Selection the flags describe (ValueError naming the flag when inconsistent)."""
    around = None
    if args.near is not None:
        around = Around(args.near[0], args.near[1], args.radius)
    return selection(countries=_codes(args.country), states=_codes(args.state), icao=_codes(args.icao),
                     station_ids=_codes(args.station_id), bbox=args.bbox, around=around, year=args.year,
                     limit=args.limit)
