"""Stand-in files for tests that look only at names and presence: identity folders and the lab's ISD files."""

from __future__ import annotations

from pathlib import Path

from fleetcore.identity import IDENTITY_FILES
from stationdata.stations import LAB_STATION_FILES


def stand_in_identity(folder: Path, text: str = "stand-in") -> Path:
    """`folder` with each identity file (certificate, key, CA) holding `text`: present, not PEM."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in IDENTITY_FILES:
        (folder / name).write_text(text)
    return folder


def stand_in_lab_files(folder: Path) -> Path:
    """`folder` with the lab's five station-years as `.gz` stand-ins: gzip's magic bytes, then nothing valid
    (registration only looks at the names)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem in LAB_STATION_FILES:
        (folder / f"{stem}.gz").write_bytes(b"\x1f\x8b not really")
    return folder
