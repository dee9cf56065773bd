"""Distinct data when there are fewer ISD files than stations: each cycled copy starts at another record.

Files cycle over the things (`stationdata.stations.assign`). Copy c (0-based) of a file replayed by C things
starts after record (line) `c * lines // C`, so copies are spread evenly over the file and the fleet does not
publish identical readings in lockstep. A file read once keeps offset 0 (the lab's five stay unchanged).
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from pathlib import Path

from stationdata.stations import StationFile


def count_lines(path: Path) -> int:
    """Lines of an ISD file (plain or .gz); 0 when it cannot be read (the station reports that file itself)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    except (OSError, EOFError, zlib.error):
        return 0


def start_offsets(files: list[StationFile]) -> list[int]:
    """The start offset of each thing's copy of its file (see module docstring), in thing order."""
    copies = Counter(sf.path for sf in files)
    lines = {path: count_lines(path) for path, n in copies.items() if n > 1}
    seen: Counter[Path] = Counter()
    out = []
    for sf in files:
        c = seen[sf.path]
        seen[sf.path] += 1
        n = copies[sf.path]
        out.append(c * lines[sf.path] // n if n > 1 else 0)
    return out


def cycling_note(files: list[StationFile]) -> str | None:
    """One plain sentence when things share files, with the counts; None when every thing has its own file."""
    distinct = len(set(sf.path for sf in files))
    if distinct >= len(files):
        return None
    most = max(Counter(sf.path for sf in files).values())
    return (f"{len(files)} stations share {distinct} ISD files in DATA_DIR: each file is replayed by up to {most} "
            f"stations ({len(files) - distinct} stations replay a file another station replays too); each copy starts "
            f"at a different record (start_offset) so their readings differ at any moment. Put more station-years "
            f"in DATA_DIR for more distinct weather_station values.")
