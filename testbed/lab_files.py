"""The lab's five station-years cut short, for the Swarm tests and `make bench-swarm-nodes`."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

from stationdata.stations import LAB_STATION_FILES

LINES = 160  # per station: ~40 s at INTERVAL=0.25, then the station exits 0


def short_lab_files(data_dir: Path, folder: Path, lines: int = LINES, fallback: Path | None = None) -> Path:
    """The lab's five station-years cut to their first `lines` records (plain files, named as the lab's), each from
    `data_dir`, else from `fallback`; world-readable, folder included: group containers (user 10001) mount the
    folder itself and must search it, and pytest makes its folders 0700."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem in LAB_STATION_FILES:
        src = data_dir / f"{stem}.gz"
        if not src.is_file() and fallback is not None:
            src = fallback / f"{stem}.gz"
        if not src.is_file():
            raise FileNotFoundError(f"{src} missing: set DATA_DIR to a folder holding the lab's station-years")
        with gzip.open(src, "rt", encoding="latin-1") as fh:
            (folder / stem).write_text("".join(itertools.islice(fh, lines)), encoding="latin-1")
        (folder / stem).chmod(0o644)
    folder.chmod(0o755)
    return folder
