"""The local copy of the station catalogue: DATA_DIR/.catalogue/isd-history.csv and its fetch record.

`load_catalogue` uses the cached copy while it is younger than CATALOGUE_MAX_AGE_DAYS, else fetches it again
from the data sources (same order and fallback as the downloads); when no source answers, a stale copy is used
with a warning, and without any copy CatalogueError says how to proceed offline (`--catalogue FILE`).
`cached_catalogue` never touches the network (registration reads names from it when present).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from stationdata.catalogue import CATALOGUE_NAME, Station, parse_catalogue
from stationdata.data_settings import DataSettings, DataSourceName
from stationdata.download import fetch_one
from stationdata.errors import CatalogueError, StationDataError
from stationdata.sources import Source, make_sources

CACHE_DIR = ".catalogue"
RECORD_NAME = "isd-history.json"


@dataclass(frozen=True)
class Catalogue:
    """Stations and where they were read from."""

    stations: list[Station]
    path: Path
    fetched_at: datetime | None
    origin: str


def cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / CACHE_DIR / CATALOGUE_NAME


def _record_path(data_dir: Path) -> Path:
    return Path(data_dir) / CACHE_DIR / RECORD_NAME


def _fetched_at(data_dir: Path) -> tuple[datetime | None, str]:
    record = _record_path(data_dir)
    try:
        doc = json.loads(record.read_text())
        return datetime.fromisoformat(doc["fetched_at"]), str(doc.get("location", ""))
    except (OSError, ValueError, KeyError, TypeError):
        path = cache_path(data_dir)
        if path.is_file():
            return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc), str(path)
        return None, ""


def read_file(path: Path) -> list[Station]:
    """Parse a catalogue file; CatalogueError naming it when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CatalogueError(f"cannot read the station catalogue {path}: {exc.strerror or exc}") from exc
    return parse_catalogue(text, str(path))


def _looks_like_catalogue(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(200)
    return None if head.lstrip(b"\xef\xbb\xbf").startswith(b'"USAF","WBAN"') else "not an isd-history.csv"


def fetch_catalogue(data_dir: Path, sources: list[Source]) -> tuple[Path, str]:
    """Fetch isd-history.csv into the cache (atomically) and record when and from where; (path, location)."""
    path = cache_path(data_dir)
    source = fetch_one(sources, lambda s: s.catalogue(), path, validate=_looks_like_catalogue)
    location = source.catalogue() if source.name == DataSourceName.NCEI else f"s3://{getattr(source, 'bucket', '')}/" \
        f"{source.catalogue()}"
    _record_path(data_dir).write_text(json.dumps({"fetched_at": datetime.now(timezone.utc).isoformat(),
                                                  "source": source.name.value, "location": location}) + "\n")
    return path, location


def load_catalogue(data_dir: Path, settings: DataSettings, *, refresh: bool = False, file: Path | None = None,
                   sources: list[Source] | None = None, now: datetime | None = None) -> Catalogue:
    """The catalogue: `file` when given, else the cache (re-fetched when older than the limit or `refresh`)."""
    if file is not None:
        return Catalogue(read_file(file), Path(file), None, str(file))
    data_dir = Path(data_dir)
    path = cache_path(data_dir)
    fetched_at, location = _fetched_at(data_dir)
    now = now or datetime.now(timezone.utc)
    fresh = fetched_at is not None and (now - fetched_at).total_seconds() <= settings.catalogue_max_age_days * 86400
    if path.is_file() and fresh and not refresh:
        return Catalogue(read_file(path), path, fetched_at, location)
    try:
        path, location = fetch_catalogue(data_dir, sources if sources is not None else make_sources(settings))
    except StationDataError as exc:
        if path.is_file():
            print(f"warning: {exc}; using the copy of {fetched_at:%Y-%m-%d} in {path}", file=sys.stderr)
            return Catalogue(read_file(path), path, fetched_at, location)
        raise CatalogueError(
            f"{exc}. No internet access? Give a copy of isd-history.csv with --catalogue FILE (CATALOGUE=FILE for "
            f"make), or set NCEI_BASE_URL / ISD_BUCKET and AWS_ENDPOINT_URL to a mirror") from None
    fetched_at, location = _fetched_at(data_dir)
    return Catalogue(read_file(path), path, fetched_at, location)


def cached_catalogue(data_dir: Path) -> list[Station] | None:
    """The cached catalogue's stations, or None when there is no (readable) copy; never fetches."""
    path = cache_path(data_dir)
    if not path.is_file():
        return None
    try:
        return read_file(path)
    except CatalogueError:
        return None
