"""`make data`: the station-years DATA_DIR needs, downloaded when absent.

Which station-years: `--stations` (USAF-WBAN-YEAR, or USAF-WBAN with --year), or the selection flags applied to
the station catalogue (with --year), or by default the lab's five. How: `stationdata.download` (concurrent,
retried, resumable, verified), from DATA_SOURCE first and the other source as fallback.

Exit status: 0 when every station-year is present or fetched (some may be reported missing at the source),
1 when one failed or no source could be reached (then one message says so), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from stationdata.catalogue import select
from stationdata.catalogue_store import load_catalogue
from stationdata.data_settings import DEFAULT_NCEI_BASE_URL, DataSettings, load
from stationdata.download import Downloader, Outcome, Summary, present
from stationdata.selection_args import selection_from_args
from stationdata.sources import Source, make_sources
from stationdata.stations import LAB_STATION_FILES, missing_lab_files

NCEI_URL = DEFAULT_NCEI_BASE_URL + "/{year}/{name}.gz"
SHOWN = 15
_STEM = re.compile(r"^[0-9A-Z]{6}-\d{5}-\d{4}$")
_ID = re.compile(r"^[0-9A-Z]{6}-\d{5}$")


def ncei_url(stem: str) -> str:
    """`USAF-WBAN-YEAR` -> the NCEI download URL of its gzipped station-year."""
    return NCEI_URL.format(year=stem.rsplit("-", 1)[1], name=stem)


def parse_stations(text: str, year: int | None) -> list[str]:
    """'A-B-2022, C-D' (comma or space separated) -> stems; ValueError naming a bad item or a missing year."""
    stems: list[str] = []
    for item in (t.strip().upper().removesuffix(".GZ") for t in re.split(r"[,\s]+", text) if t.strip()):
        if _STEM.match(item):
            stems.append(item)
        elif _ID.match(item):
            if year is None:
                raise ValueError(f"--stations {item}: give the year (USAF-WBAN-YEAR) or --year (make YEAR=)")
            stems.append(f"{item}-{year}")
        else:
            raise ValueError(f"--stations {item!r} is not USAF-WBAN-YEAR or USAF-WBAN (e.g. 725300-94846-2022)")
    return list(dict.fromkeys(stems))


def wanted_stems(args: argparse.Namespace, settings: DataSettings) -> tuple[list[str], str]:
    """The station-years to make sure of, and a phrase saying where they come from."""
    if args.stations:
        stems = parse_stations(args.stations, args.year)
        return stems, f"{len(stems)} station-years given"
    sel = selection_from_args(args)
    if sel.is_empty():
        if args.year is not None or args.limit is not None:
            raise ValueError("--year/--limit select from the catalogue: add a criterion (--country, --state, "
                             "--bbox, --near, --icao, --station), or give --stations")
        return list(LAB_STATION_FILES), f"the lab's {len(LAB_STATION_FILES)} station-years"
    if sel.year is None:
        raise ValueError("a selection downloads one year: add --year (make YEAR=), e.g. --year 2023")
    catalogue = load_catalogue(args.data_dir, settings, refresh=args.refresh, file=args.catalogue)
    chosen = select(catalogue.stations, sel)
    return [f"{s.station_id}-{sel.year}" for s in chosen], f"{len(chosen)} stations selected for {sel.year}"


def report(summary: Summary, data_dir: Path) -> None:
    """The final summary: counts on stdout, then what was re-fetched or missing; failures on stderr."""
    out, err = sys.stdout, sys.stderr
    fetched, here = summary.of(Outcome.FETCHED), summary.of(Outcome.PRESENT)
    missing, failed = summary.of(Outcome.MISSING), summary.of(Outcome.FAILED)
    by_source: dict[str, int] = {}
    for r in fetched:
        by_source[r.source or "?"] = by_source.get(r.source or "?", 0) + 1
    origin = ", ".join(f"{n} from {s}" for s, n in sorted(by_source.items()))
    print(f"data: {len(summary.results)} station-years in {data_dir}: {len(fetched)} fetched "
          f"({summary.fetched_bytes / 1e6:.1f} MB{'; ' + origin if origin else ''}), {len(here)} already present, "
          f"{len(missing)} missing at the source, {len(failed)} failed", file=out)
    for r in [r for r in fetched if r.detail][:SHOWN]:
        print(f"  re-fetched {r.stem}: {r.detail}", file=out)
    for r in missing[:SHOWN]:
        print(f"  missing {r.stem}: {r.detail}", file=out)
    if len(missing) > SHOWN:
        print(f"  ... and {len(missing) - SHOWN} more missing", file=out)
    for r in failed[:SHOWN]:
        print(f"  failed {r.stem}: {r.detail}", file=err)
    if len(failed) > SHOWN:
        print(f"  ... and {len(failed) - SHOWN} more failed", file=err)


def no_network_message(summary: Summary, sources: Sequence[Source], data_dir: Path) -> str:
    where = "; ".join(f"{s.describe()}: {summary.unreachable.get(s.name.value, '?')}" for s in sources)
    return (f"cannot reach any data source ({where}). No internet access? Nothing was written to {data_dir}. "
            f"Copy the files (USAF-WBAN-YEAR[.gz]) into a folder and set DATA_DIR to it (e.g. "
            f"DATA_DIR=../shared/data/isd), or point NCEI_BASE_URL / ISD_BUCKET + AWS_ENDPOINT_URL at a mirror.")


def download(stems: Sequence[str], data_dir: Path, settings: DataSettings, *, progress: bool,
             sources: Sequence[Source] | None = None) -> int:
    """Download `stems` into `data_dir`, print the summary; the exit status."""
    sources = list(sources) if sources is not None else make_sources(settings)
    downloader = Downloader(Path(data_dir), sources, workers=settings.data_workers, attempts=settings.data_attempts,
                            backoff_seconds=settings.data_backoff_seconds)
    summary = downloader.run(stems, progress=progress)
    if summary.no_network(len(sources)):
        print(no_network_message(summary, sources, Path(data_dir)), file=sys.stderr)
        return 1
    report(summary, Path(data_dir))
    return 1 if summary.of(Outcome.FAILED) else 0


def ensure_lab_data(data_dir: Path, *, download_missing: bool = True, settings: DataSettings | None = None,
                    sources: Sequence[Source] | None = None, progress: bool = False) -> int:
    """0 when DATA_DIR holds the lab's five station-years (downloading the missing ones); 1 otherwise."""
    data_dir = Path(data_dir)
    missing = missing_lab_files(data_dir) if data_dir.is_dir() else list(LAB_STATION_FILES)
    if not missing:
        print(f"DATA_DIR {data_dir} holds the lab's {len(LAB_STATION_FILES)} station-years")
        return 0
    if not download_missing:
        print(f"DATA_DIR {data_dir} lacks {', '.join(missing)}: run `make data`, or set DATA_DIR to a folder "
              "that has them", file=sys.stderr)
        return 1
    return download(LAB_STATION_FILES, data_dir, settings or load(), progress=progress,
                    sources=sources)


def run(args: argparse.Namespace) -> int:
    """`provisioning data`."""
    settings = load(**({"data_source": args.source} if args.source else {}))
    if args.workers:
        settings = settings.model_copy(update={"data_workers": args.workers})
    try:
        stems, what = wanted_stems(args, settings)
    except ValueError as exc:
        print(f"provisioning data: {exc}", file=sys.stderr)
        return 2
    if not stems:
        print(f"provisioning data: no station matches the selection ({what}); try `make stations` with the same "
              "flags", file=sys.stderr)
        return 1
    data_dir = Path(args.data_dir)
    if args.check:
        absent = [s for s in stems if not (data_dir.is_dir() and present(data_dir, s)[0])]
        if absent:
            shown = ", ".join(absent[:SHOWN]) + (f" and {len(absent) - SHOWN} more" if len(absent) > SHOWN else "")
            print(f"DATA_DIR {data_dir} lacks {len(absent)} of {what}: {shown}: run `make data` (same flags), or "
                  "set DATA_DIR to a folder that has them", file=sys.stderr)
            return 1
        print(f"DATA_DIR {data_dir} holds {what}")
        return 0
    if stems == list(LAB_STATION_FILES) and not args.stations:
        return ensure_lab_data(data_dir, settings=settings, progress=_progress(args))
    print(f"data: {what} -> {data_dir}", file=sys.stderr)
    return download(stems, data_dir, settings, progress=_progress(args))


def _progress(args: argparse.Namespace) -> bool:
    return args.progress if args.progress is not None else sys.stderr.isatty()
