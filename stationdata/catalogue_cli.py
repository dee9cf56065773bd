"""`python -m stationdata stations` (make stations): select stations from the catalogue, print a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stationdata.catalogue import Station, select
from stationdata.catalogue_store import load_catalogue
from stationdata.data_settings import load
from stationdata.selection_args import add_selection_arguments, selection_from_args


def add_arguments(p: argparse.ArgumentParser, data_dir: Path, *, with_json: bool = True) -> None:
    p.add_argument("--data-dir", type=Path, default=data_dir, help="the catalogue is cached in DATA_DIR/.catalogue "
                   "(env DATA_DIR, default %(default)s)")
    p.add_argument("--catalogue", type=Path, default=None, metavar="FILE",
                   help="read this isd-history.csv instead of the cached/fetched one (make CATALOGUE=)")
    p.add_argument("--refresh", action="store_true", help="fetch the catalogue again even if the cached copy is "
                   "younger than CATALOGUE_MAX_AGE_DAYS (make REFRESH=1)")
    if with_json:
        p.add_argument("--json", action="store_true", help="print the selection as a JSON array")
    add_selection_arguments(p)


def _cell(value: object, width: int) -> str:
    text = "" if value is None else str(value)
    return text[:width].ljust(width)


def table(stations: list[Station], distances: list[float | None] | None) -> str:
    head = (f"{'STATION':<12} {'NAME':<32} {'CC':<2} {'ST':<2} {'ICAO':<4} {'LAT':>8} {'LON':>9} {'ELEV':>7} "
            f"{'BEGIN':<10} {'END':<10}" + ("  DIST_KM" if distances else ""))
    lines = [head]
    for i, s in enumerate(stations):
        lat = "" if s.latitude is None else f"{s.latitude:.3f}"
        lon = "" if s.longitude is None else f"{s.longitude:.3f}"
        elev = "" if s.elevation is None else f"{s.elevation:.1f}"
        line = (f"{s.station_id:<12} {_cell(s.name, 32)} {_cell(s.country, 2)} {_cell(s.state, 2)} "
                f"{_cell(s.icao, 4)} {lat:>8} {lon:>9} {elev:>7} {_cell(s.begin, 10)} {_cell(s.end, 10)}")
        if distances:
            d = distances[i]
            line += f"  {'' if d is None else f'{d:7.1f}'}"
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = load()
    try:
        sel = selection_from_args(args)
    except ValueError as exc:
        print(f"provisioning stations: {exc}", file=sys.stderr)
        return 2
    catalogue = load_catalogue(args.data_dir, settings, refresh=args.refresh, file=args.catalogue)
    chosen = select(catalogue.stations, sel)
    distances = [sel.around.distance_km(s) for s in chosen] if sel.around else None
    if args.json:
        docs = [s.as_dict() | ({"distance_km": round(distances[i], 1) if distances[i] is not None else None}
                               if distances else {}) for i, s in enumerate(chosen)]
        print(json.dumps(docs, indent=2))
    else:
        print(table(chosen, distances))
    when = f", fetched {catalogue.fetched_at:%Y-%m-%d}" if catalogue.fetched_at else ""
    print(f"{len(chosen)} of {len(catalogue.stations)} stations (catalogue {catalogue.path}{when})", file=sys.stderr)
    return 0
