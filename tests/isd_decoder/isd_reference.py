"""PyPI `isd` (gadomski/pyisd) in its own venv, driven by subprocess (it needs numpy<2 and pandas).

`reference_python()` returns the venv's python: `ISD_PYTHON` if set, else `.bench/isd-venv` (shared with
`make bench-parse`, made from the lock by scripts/reference_venv.py). None when it cannot be had (no registry access).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scripts.reference_venv import isd_python


# Prints one JSON array per line of each file: the mandatory fields as isd parses them, or an error.
RUNNER = r"""
import gzip, json, sys
from isd.record import Record
FIELDS = ("usaf_id", "ncei_id", "year", "month", "day", "hour", "minute", "data_source", "latitude", "longitude",
          "report_type", "elevation", "call_letters", "quality_control_process", "wind_direction",
          "wind_direction_quality_code", "wind_observation_type", "wind_speed", "wind_speed_quality_code",
          "ceiling", "ceiling_quality_code", "ceiling_determination_code", "cavok_code", "visibility",
          "visibility_quality_code", "visibility_variability_code", "visibility_variability_quality_code",
          "air_temperature", "air_temperature_quality_code", "dew_point_temperature",
          "dew_point_temperature_quality_code", "sea_level_pressure", "sea_level_pressure_quality_code")
out = sys.stdout
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    with opener(path, "rb") as f:
        for number, line in enumerate(f, 1):
            try:
                r = Record.parse(line.decode("utf-8"))
                row = [path, number, None] + [getattr(r, name) for name in FIELDS]
            except Exception as exc:
                row = [path, number, type(exc).__name__]
            out.write(json.dumps(row) + "\n")
"""


def reference_python() -> Path | None:
    configured = os.environ.get("ISD_PYTHON")
    if configured:
        return Path(configured) if Path(configured).exists() else None
    try:
        return isd_python()
    except (OSError, subprocess.SubprocessError):
        return None
