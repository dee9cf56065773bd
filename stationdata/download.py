"""Fetch many ISD station-years reliably: concurrent, retried, resumable, atomic, verified.

Invariants:
- A file named USAF-WBAN-YEAR.gz in DATA_DIR is always a complete, valid gzip: it is written to a hidden
  `.NAME.*.part` file in the same folder, verified (gzip magic, full decompression with CRC check) and only then
  renamed into place. A download killed halfway leaves at most a `.part` file, which the next run removes.
- Resume: a station-year already present (plain, or .gz that passes the same verification) is not fetched again;
  a .gz that fails it is fetched again.
- Each file is tried on the sources in order (DATA_SOURCE first); transient failures are retried with exponential
  backoff; a source that cannot be reached at all is not tried again in this run (its failure is known).
- A station-year every reachable source says does not exist is MISSING (reported, not fatal).
"""

from __future__ import annotations

import gzip
import os
import random
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from stationdata.errors import StationDataError
from stationdata.sources import Source, SourceError, SourceErrorKind

PART_SUFFIX = ".part"
MAX_BACKOFF_SECONDS = 30.0


class Outcome(str, Enum):
    FETCHED = "fetched"
    PRESENT = "present"
    MISSING = "missing"
    FAILED = "failed"


@dataclass(frozen=True)
class FileResult:
    """What happened to one station-year."""

    stem: str
    outcome: Outcome
    bytes: int = 0
    source: str | None = None
    detail: str = ""


@dataclass
class Summary:
    """Every result, and which sources could not be reached."""

    results: list[FileResult] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # source name -> first error message

    def of(self, outcome: Outcome) -> list[FileResult]:
        return [r for r in self.results if r.outcome is outcome]

    @property
    def fetched_bytes(self) -> int:
        return sum(r.bytes for r in self.of(Outcome.FETCHED))

    def no_network(self, source_count: int) -> bool:
        """True when nothing could be fetched because no source answered at all."""
        return bool(self.of(Outcome.FAILED)) and not self.of(Outcome.FETCHED) and \
            len(self.unreachable) >= source_count


class Progress:
    """Thread-safe progress: files done, bytes, byte rate and ETA (tqdm on stderr) or nothing."""

    def __init__(self, total_files: int, enabled: bool) -> None:
        self._lock = threading.Lock()
        self._bytes = 0
        self._start = time.monotonic()
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total_files, unit="file", desc="station-years", dynamic_ncols=True,
                             mininterval=0.3, smoothing=0.1)

    def add_bytes(self, n: int) -> None:
        with self._lock:
            self._bytes += n

    def file_done(self) -> None:
        with self._lock:
            if self._bar is not None:
                rate = self._bytes / max(1e-6, time.monotonic() - self._start)
                self._bar.set_postfix_str(f"{self._bytes / 1e6:.1f} MB, {rate / 1e6:.2f} MB/s", refresh=False)
                self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def verify_gzip(path: Path) -> str | None:
    """None when `path` is a complete gzip file (magic, every member decompressed, CRC and size checked),
    else the reason it is not."""
    try:
        with open(path, "rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                return "not a gzip file"
        with gzip.open(path, "rb") as gz:
            while gz.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return f"damaged gzip ({type(exc).__name__}: {exc})"
    return None


def remove_partials(data_dir: Path) -> list[Path]:
    """Delete the `.part` files a killed run left behind; the paths removed."""
    removed = []
    for p in Path(data_dir).glob(f".*{PART_SUFFIX}"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def present(data_dir: Path, stem: str) -> tuple[bool, str]:
    """(True, '') when the station-year is already complete in `data_dir`; (False, why) otherwise."""
    plain = data_dir / stem
    if plain.is_file() and plain.stat().st_size > 0:
        return True, ""
    gz = data_dir / f"{stem}.gz"
    if not gz.is_file():
        return False, ""
    problem = verify_gzip(gz)
    return (problem is None), (f"{gz.name}: {problem}, fetched again" if problem else "")


@dataclass
class Downloader:
    """Downloads station-years into `data_dir` from `sources` (in order)."""

    data_dir: Path
    sources: Sequence[Source]
    workers: int = 8
    attempts: int = 4
    backoff_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    _down: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, stems: Sequence[str], *, progress: bool = False) -> Summary:
        """Fetch every stem not already present; never raises for one file's failure."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        remove_partials(self.data_dir)
        bar = Progress(len(stems), progress)
        summary = Summary()
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(stems) or 1)),
                                    thread_name_prefix="isd-download") as pool:
                for result in pool.map(lambda s: self._one(s, bar), stems):
                    summary.results.append(result)
        finally:
            bar.close()
        summary.unreachable = dict(self._down)
        return summary

    def _one(self, stem: str, bar: Progress) -> FileResult:
        try:
            done, why = present(self.data_dir, stem)
            if done:
                return FileResult(stem, Outcome.PRESENT)
            return self._fetch(stem, bar, note=why)
        finally:
            bar.file_done()

    def _fetch(self, stem: str, bar: Progress, note: str = "") -> FileResult:
        not_found: list[str] = []
        problems: list[str] = []
        for source in self.sources:
            with self._lock:
                down = self._down.get(source.name.value)
            if down is not None:
                problems.append(f"{source.name.value} unreachable")
                continue
            try:
                size = self._with_retries(source, stem, bar)
            except SourceError as exc:
                if exc.kind is SourceErrorKind.NOT_FOUND:
                    not_found.append(exc.message)
                    continue
                if exc.kind is SourceErrorKind.UNREACHABLE:
                    with self._lock:
                        self._down.setdefault(source.name.value, exc.message)
                problems.append(exc.message)
                continue
            return FileResult(stem, Outcome.FETCHED, size, source.name.value, note)
        if not_found and not problems:
            return FileResult(stem, Outcome.MISSING, detail="; ".join(not_found))
        return FileResult(stem, Outcome.FAILED, detail="; ".join(problems + not_found))

    def _with_retries(self, source: Source, stem: str, bar: Progress) -> int:
        location = source.station_year(stem)
        for attempt in range(1, self.attempts + 1):
            try:
                return self._download_to(source, location, stem, bar)
            except SourceError as exc:
                if exc.kind is not SourceErrorKind.TRANSIENT or attempt == self.attempts:
                    raise
                delay = min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2 ** (attempt - 1))
                self.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 (jitter, not crypto)
        raise AssertionError("unreachable")  # pragma: no cover

    def _download_to(self, source: Source, location: str, stem: str, bar: Progress) -> int:
        """One attempt: stream into a .part file, verify it, rename it into place; nothing left on failure."""
        target = self.data_dir / f"{stem}.gz"
        fd, tmp_name = tempfile.mkstemp(dir=self.data_dir, prefix=f".{target.name}.", suffix=PART_SUFFIX)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                size = source.fetch(location, out, bar.add_bytes)
                out.flush()
                os.fsync(out.fileno())
            problem = verify_gzip(tmp)
            if problem is not None:
                raise SourceError(SourceErrorKind.TRANSIENT, f"{location}: {problem} ({size} bytes), rejected")
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            return size
        finally:
            tmp.unlink(missing_ok=True)


def fetch_one(sources: Sequence[Source], location_of: Callable[[Source], str], target: Path,
              *, attempts: int = 3, backoff_seconds: float = 1.0,
              validate: Callable[[Path], str | None] | None = None) -> Source:
    """Fetch one object (e.g. the catalogue) atomically to `target` from the first source that has it.

    StationDataError naming every source's failure when none does; nothing is left behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for source in sources:
        location = location_of(source)
        for attempt in range(1, attempts + 1):
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PART_SUFFIX)
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out:
                    source.fetch(location, out)
                problem = validate(tmp) if validate else None
                if problem is not None:
                    raise SourceError(SourceErrorKind.REFUSED, f"{location}: {problem}")
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
                return source
            except SourceError as exc:
                if exc.kind is SourceErrorKind.TRANSIENT and attempt < attempts:
                    time.sleep(min(MAX_BACKOFF_SECONDS, backoff_seconds * 2 ** (attempt - 1)))
                    continue
                problems.append(exc.message)
                break
            finally:
                tmp.unlink(missing_ok=True)
    raise StationDataError("cannot fetch " + target.name + ": " + "; ".join(problems))
