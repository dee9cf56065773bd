"""`python -m stationdata`: the station-years the fleet replays.

    stations   select stations from the NOAA ISD catalogue (make stations)
    data       make sure DATA_DIR holds the station-years wanted, downloading the missing ones (make data)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fleetcore.cli import run_command
from stationdata import catalogue_cli, data
from stationdata.data_settings import DataSourceName, load
from stationdata.errors import StationDataError


def build_parser(settings_data_dir: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stationdata", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stations = sub.add_parser("stations", help="select stations from the NOAA ISD catalogue (isd-history.csv)")
    catalogue_cli.add_arguments(stations, settings_data_dir)
    stations.set_defaults(_run=catalogue_cli.run)

    fetch = sub.add_parser("data", help="make sure DATA_DIR holds the station-years wanted (the lab's five by "
                           "default; --stations or selection flags for others), downloading the missing ones")
    catalogue_cli.add_arguments(fetch, settings_data_dir, with_json=False)
    fetch.add_argument("--stations", default=None, metavar="LIST", help="station-years USAF-WBAN-YEAR (or USAF-WBAN "
                       "with --year), comma-separated (make STATIONS=)")
    fetch.add_argument("--source", choices=[n.value for n in DataSourceName], default=None,
                       help="source tried first (env DATA_SOURCE, default ncei); the other is the fallback")
    fetch.add_argument("--workers", type=int, default=None, help="concurrent downloads (env DATA_WORKERS)")
    fetch.add_argument("--check", action="store_true", help="only check, never download")
    fetch.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bar on stderr (default: when stderr is a terminal)")
    fetch.set_defaults(_run=data.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 done, 2 configuration error, 1 any other station-data error (one line each on stderr)."""
    def run() -> int | None:
        args = build_parser(load().data_dir).parse_args(argv)
        return args._run(args)

    return run_command(run, (StationDataError,), "stationdata")


if __name__ == "__main__":
    sys.exit(main())
