"""Thing names and the station-year each thing replays.

Stand-in until the `fleet` branch's `provisioning/stations.py` is merged: the integrator should make
`planned_things` call that module so local and AWS fleets assign stations the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# ISD file names: USAF-WBAN-YEAR, optionally .gz
_ISD_NAME = re.compile(r"^(?P<usaf>[0-9A-Z]{6})-(?P<wban>\d{5})-(?P<year>\d{4})(\.gz)?$")


@dataclass(frozen=True)
class PlannedThing:
    thing_name: str
    station_id: str | None
    isd_file: str | None
    role: str = "station"


def isd_files(data_dir: Path | None) -> list[Path]:
    """ISD station-year files in `data_dir`, sorted by name; [] when the folder is absent or None."""
    if data_dir is None or not Path(data_dir).is_dir():
        return []
    return sorted(p for p in Path(data_dir).iterdir() if p.is_file() and _ISD_NAME.match(p.name))


def station_id_of(isd_file: str) -> str:
    m = _ISD_NAME.match(isd_file)
    if not m:
        raise ValueError(f"{isd_file!r} is not an ISD file name (USAF-WBAN-YEAR[.gz])")
    return f"{m['usaf']}-{m['wban']}"


def thing_name(prefix: str, index: int, count: int) -> str:
    """`<prefix>-001` ... (1-based, zero-padded to at least 3 digits)."""
    return f"{prefix}-{index:0{max(3, len(str(count)))}d}"


def planned_things(count: int, prefix: str, data_dir: Path | None) -> list[PlannedThing]:
    """`count` things; thing i replays file i (cycling when there are fewer files than things)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    files = isd_files(data_dir)
    out = []
    for i in range(count):
        f = files[i % len(files)].name if files else None
        out.append(PlannedThing(thing_name(prefix, i + 1, count), station_id_of(f) if f else None, f))
    return out
