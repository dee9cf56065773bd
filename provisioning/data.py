"""The lab's ISD files: use DATA_DIR when it already holds them, else download them from NCEI."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

from provisioning.files import write_if_changed
from provisioning.stations import LAB_STATION_FILES, missing_lab_files

NCEI_URL = "https://www.ncei.noaa.gov/pub/data/noaa/{year}/{name}.gz"
TIMEOUT = 60


def ncei_url(stem: str) -> str:
    """`USAF-WBAN-YEAR` -> the NCEI download URL of its gzipped station-year."""
    return NCEI_URL.format(year=stem.rsplit("-", 1)[1], name=stem)


def ensure_lab_data(data_dir: Path, *, download: bool = True) -> int:
    """0 when DATA_DIR holds the lab's five station-years (downloading the missing ones); 1 otherwise."""
    data_dir = Path(data_dir)
    missing = missing_lab_files(data_dir) if data_dir.is_dir() else list(LAB_STATION_FILES)
    if not missing:
        print(f"DATA_DIR {data_dir} holds the lab's {len(LAB_STATION_FILES)} station-years")
        return 0
    if not download:
        print(f"DATA_DIR {data_dir} lacks {', '.join(missing)}: run `make data`, or set DATA_DIR to a folder "
              "that has them", file=sys.stderr)
        return 1
    data_dir.mkdir(parents=True, exist_ok=True)
    for stem in missing:
        url = ncei_url(stem)
        print(f"downloading {url}")
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 (fixed https URL)
                body = resp.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            print(f"cannot download {url}: {exc}\nNo internet access? Copy the files (USAF-WBAN-YEAR[.gz]) into "
                  f"a folder and set DATA_DIR to it in .env (e.g. DATA_DIR=../shared/data/isd); `make data` "
                  f"then skips the download.", file=sys.stderr)
            return 1
        if body[:2] != b"\x1f\x8b":
            print(f"{url} did not return a gzip file ({len(body)} bytes); nothing written", file=sys.stderr)
            return 1
        write_if_changed(data_dir / f"{stem}.gz", body)
    print(f"DATA_DIR {data_dir} now holds the lab's station-years")
    return 0
