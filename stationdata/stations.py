"""Which ISD station-year each thing replays: deterministic assignment of the files in DATA_DIR."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from stationdata.errors import ConfigError

# The five station-years the lab replays, in the lab's order.
LAB_STATION_FILES: tuple[str, ...] = (
    "030910-99999-2022",
    "061100-99999-2022",
    "062800-99999-2022",
    "713060-99999-2022",
    "723123-14886-2022",
)

_ISD_NAME = re.compile(r"^(?P<usaf>[0-9A-Z]{6})-(?P<wban>\d{5})-(?P<year>\d{4})(?P<gz>\.gz)?$")


@dataclass(frozen=True)
class StationFile:
    """One ISD station-year file on disk."""

    path: Path
    station_id: str
    year: int

    @property
    def stem(self) -> str:
        return f"{self.station_id}-{self.year}"


def parse_isd_name(path: Path) -> StationFile | None:
    """A StationFile when `path` is named like NCEI's `USAF-WBAN-YEAR[.gz]`, else None."""
    m = _ISD_NAME.match(path.name)
    if not m:
        return None
    return StationFile(path=path, station_id=f"{m['usaf']}-{m['wban']}", year=int(m["year"]))


def discover(data_dir: Path) -> list[StationFile]:
    """ISD files in `data_dir`: the lab's five first (lab order), then the others sorted by name.

    When both `X` and `X.gz` exist, the plain file wins (it is the same data, read faster).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ConfigError(
            f"DATA_DIR {data_dir} is not a folder: run `make data`, or set DATA_DIR to a folder of ISD files")
    by_stem: dict[str, StationFile] = {}
    for p in sorted(data_dir.iterdir()):
        sf = parse_isd_name(p) if p.is_file() else None
        if sf is None:
            continue
        if sf.stem not in by_stem or not p.name.endswith(".gz"):
            by_stem[sf.stem] = sf
    lab = [by_stem[s] for s in LAB_STATION_FILES if s in by_stem]
    others = [by_stem[s] for s in sorted(by_stem) if s not in LAB_STATION_FILES]
    return lab + others


def distinct_first(files: list[StationFile]) -> list[StationFile]:
    """Every station once (in the given order) before any station's second year, then its third, and so on:
    a fleet smaller than the number of stations never publishes the same weather_station twice."""
    rounds: list[list[StationFile]] = []
    seen: dict[str, int] = {}
    for f in files:
        n = seen.get(f.station_id, 0)
        seen[f.station_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(f)
    return [f for r in rounds for f in r]


def assign(count: int, data_dir: Path) -> list[StationFile]:
    """The files for things 1..count: every distinct file once (distinct stations first, the lab's five leading),
    and only then cycled, when there are fewer files than things."""
    files = distinct_first(discover(data_dir))
    if not files:
        raise ConfigError(
            f"no ISD files (USAF-WBAN-YEAR[.gz]) in DATA_DIR {data_dir}: run `make data` or point DATA_DIR at them")
    return [files[i % len(files)] for i in range(count)]


def missing_lab_files(data_dir: Path) -> list[str]:
    """The lab's station-years with neither a plain nor a .gz file in `data_dir`."""
    data_dir = Path(data_dir)
    return [s for s in LAB_STATION_FILES
            if not (data_dir / s).is_file() and not (data_dir / f"{s}.gz").is_file()]
