"""Decode once, replay many: a per-file cache of encoded message templates on a shared volume (CACHE_DIR).

A cache file holds, for every record of one ISD file, its line number, observation time and its encoded message
cut around the per-station and per-send fields (thing_name, seq, sent_at; time when TIME_MODE=shifted). Replay
then splices those fields in and publishes: the bytes equal the normal path's (`IsdSource.encode`) exactly (`station.sources.fill`).

Invariants:
- a cache is valid only for the source bytes it was made from: its name holds the source's SHA-256 and its header
  repeats size and hash; anything else is ignored and rebuilt;
- it is written to a temporary file and renamed into place (readers never see half a file), under an exclusive
  `flock` on `<name>.lock` so concurrent producers (stations, group containers) decode a file once;
- readers map it (mmap): its pages are the kernel's page cache, shared by every process replaying the file; a
  station keeps only its record index (no preload, no per-station read-ahead).
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import mmap
import os
import struct
import tempfile
from array import array
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from station.errors import StationError
from station.input_errors import FILE_KIND, InputProblem, ProblemSink
from station.sources import IsdSource, fill, make_template  # noqa: F401 - fill: the splice of a record

CACHE_VERSION = 2
MAGIC = b"WFMC%d\n" % CACHE_VERSION
_NAME_MARK = "thing-name-mark-7c1d"
_REC = struct.Struct("<IqB")  # line number, observation time (µs since the epoch, UTC), number of parts
_LEN = struct.Struct("<I")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
RELEASE_BYTES = 1 << 20  # pages checked between two releases (a multiple of the page size)


class CacheError(StationError):
    """The source file cannot be read or the cache cannot be made; the message names the file."""


def source_digest(path: Path, chunk: int = 1 << 20) -> tuple[int, str]:
    """(size, sha256 hex) of the source file's bytes, as stored (compressed or not)."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            size += len(block)
            digest.update(block)
    return size, digest.hexdigest()


def cache_name(source: Path, sha256: str, shifted: bool) -> str:
    return f"{Path(source).name}.{sha256[:20]}.{'shifted' if shifted else 'original'}.v{CACHE_VERSION}.msgcache"


def station_prefix(thing_name: str) -> bytes:
    """The start of every message of `thing_name`, up to the seq digits (thing_name is the first field)."""
    return b'{"thing_name":' + json.dumps(thing_name).encode() + b',"seq":'


@dataclass(frozen=True)
class CachedRecord:
    """One record of a cache: `parts` are the template after the station prefix (see `fill`)."""

    line_number: int
    time: datetime
    parts: tuple[bytes, ...]


class MessageCache:
    """A mapped cache file: records by index (0-based, file order)."""

    def __init__(self, path: Path, header: dict[str, Any], mapped: mmap.mmap, offsets: array) -> None:
        self.path = path
        self.header = header
        self._map = mapped
        self._offsets = offsets
        self._starts: dict[tuple[int, datetime | None], int] = {}

    def __len__(self) -> int:
        return len(self._offsets)

    @property
    def skipped(self) -> list[str]:
        return list(self.header.get("skipped", []))

    @property
    def file_error(self) -> str | None:
        """Why reading the source stopped early (damaged or truncated file), None when it was read to its end."""
        return self.header.get("file_error")

    @property
    def skipped_count(self) -> int:
        return int(self.header.get("skipped_count", 0))

    def known_problems(self) -> tuple[dict[str, int], InputProblem | None]:
        """(damaged lines by kind, the file error) as met when the cache was made: what a station replaying a
        reused cache reports again."""
        error = None
        if self.file_error:
            error = InputProblem(int(self.header.get("file_error_line") or 1), FILE_KIND, self.file_error)
        return dict(self.header.get("skipped_by_kind", {})), error

    def release_before(self, index: int) -> None:
        """Drop the mapped pages before record `index` from this process's memory (they stay in the page cache):
        one station reading the file once keeps its RSS flat."""
        end = self._offsets[index] & ~(mmap.PAGESIZE - 1) if index < len(self._offsets) else len(self._map)
        if end > 0:
            self._map.madvise(mmap.MADV_DONTNEED, 0, end)

    def record(self, index: int) -> CachedRecord:
        m, pos = self._map, self._offsets[index]
        line, micros, nparts = _REC.unpack_from(m, pos)
        pos += _REC.size
        parts = []
        for _ in range(nparts):
            (n,) = _LEN.unpack_from(m, pos)
            pos += 4
            parts.append(m[pos:pos + n])
            pos += n
        return CachedRecord(line, datetime.fromtimestamp(micros / 1e6, timezone.utc), tuple(parts))

    def first_index_after_line(self, line: int) -> int:
        """Index of the first record whose line number is greater than `line` (binary search)."""
        lo, hi = 0, len(self._offsets)
        while lo < hi:
            mid = (lo + hi) // 2
            if _REC.unpack_from(self._map, self._offsets[mid])[0] <= line:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def start_index(self, skip_through: int, start_at: datetime | None) -> int:
        """Index of the first record after line `skip_through` and at or after `start_at` (remembered: the
        stations of a group replaying one file mostly start at the same place)."""
        key = (skip_through, start_at)
        found = self._starts.get(key)
        if found is None:
            found = self.first_index_after_line(skip_through)
            if start_at is not None:
                while found < len(self) and self.record(found).time < start_at:
                    found += 1
            self._starts[key] = found
        return found

    def close(self) -> None:
        self._map.close()


def _produce(source: Path, target: Path, size: int, sha256: str, shifted: bool,
             on_problem: ProblemSink | None = None) -> None:
    """Decode `source` once and write its cache to `target` atomically; its problems also go to `on_problem`
    as they are met."""
    problems: list[InputProblem] = []

    def met(problem: InputProblem) -> None:
        problems.append(problem)
        if on_problem is not None:
            on_problem(problem)

    src = IsdSource(source, _NAME_MARK, on_problem=met)
    mark_prefix = station_prefix(_NAME_MARK)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        count = 0
        with os.fdopen(fd, "wb") as out:
            body = tempfile.TemporaryFile(dir=target.parent)
            with body:
                for record in src.records():
                    parts = make_template(src, record, shifted=shifted)
                    if not parts[0] == mark_prefix:
                        raise CacheError(f"{source}: unexpected message layout {parts[0][:60]!r}")
                    rest = parts[1:]
                    micros = round((record.time - _EPOCH).total_seconds() * 1e6)
                    body.write(_REC.pack(record.line_number, micros, len(rest)))
                    for p in rest:
                        body.write(_LEN.pack(len(p)))
                        body.write(p)
                    count += 1
                skipped = [f"line {p.line_number}: {p.message}" for p in problems if not p.is_file_error]
                file_error = next((p for p in problems if p.is_file_error), None)
                kinds = collections.Counter(p.kind for p in problems if not p.is_file_error)
                header = {"version": CACHE_VERSION, "source": Path(source).name, "size": size, "sha256": sha256,
                          "shifted": shifted, "records": count, "skipped_count": len(skipped),
                          "skipped": skipped[:5], "skipped_by_kind": dict(kinds),
                          "file_error": file_error.message if file_error else None,
                          "file_error_line": file_error.line_number if file_error else None}
                out.write(MAGIC + json.dumps(header).encode() + b"\n")
                body.seek(0)
                while block := body.read(1 << 20):
                    out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open(path: Path, size: int, sha256: str, shifted: bool) -> MessageCache | None:
    """The cache at `path` when it is complete and made from these source bytes, else None."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None
    with fh:
        if fh.read(len(MAGIC)) != MAGIC:
            return None
        try:
            header = json.loads(fh.readline())
        except ValueError:
            return None
        if (header.get("size"), header.get("sha256"), header.get("shifted")) != (size, sha256, shifted):
            return None
        start = fh.tell()
        if os.fstat(fh.fileno()).st_size == 0:
            return None
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    offsets = array("Q")
    pos, end = start, len(mapped)
    release = RELEASE_BYTES
    try:
        while pos < end:
            offsets.append(pos)
            _, _, nparts = _REC.unpack_from(mapped, pos)
            pos += _REC.size
            for _ in range(nparts):
                pos += 4 + _LEN.unpack_from(mapped, pos)[0]
            if pos >= release:  # the pages checked leave our RSS as we go (they stay in the page cache)
                mapped.madvise(mmap.MADV_DONTNEED, 0, release)
                release += RELEASE_BYTES
    except struct.error:
        mapped.close()
        return None
    if pos != end or len(offsets) != header.get("records"):
        mapped.close()
        return None
    mapped.madvise(mmap.MADV_DONTNEED)
    return MessageCache(path, header, mapped, offsets)


def open_cache(source: Path, cache_dir: Path, *, shifted: bool, digest: tuple[int, str] | None = None,
               on_problem: ProblemSink | None = None) -> tuple[MessageCache, bool]:
    """The cache of `source` (made now when missing or stale; the problems met making it go to `on_problem`);
    (cache, produced_here). CacheError on failure."""
    source, cache_dir = Path(source), Path(cache_dir)
    try:
        size, sha256 = digest or source_digest(source)
    except OSError as exc:
        raise CacheError(f"data file {source} cannot be read: {exc.strerror or exc}") from None
    target = cache_dir / cache_name(source, sha256, shifted)
    found = _open(target, size, sha256, shifted)
    if found is not None:
        return found, False
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with open(cache_dir / (target.name + ".lock"), "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another producer may be writing it: wait, then reuse
            found = _open(target, size, sha256, shifted)
            if found is not None:
                return found, False
            _produce(source, target, size, sha256, shifted, on_problem)
    except OSError as exc:
        raise CacheError(f"message cache for {source.name} cannot be written in {cache_dir} (CACHE_DIR): "
                         f"{exc.strerror or exc}") from None
    if source_digest(source) != (size, sha256):
        raise CacheError(f"data file {source} changed while its cache was made; restart to rebuild it")
    found = _open(target, size, sha256, shifted)
    if found is None:
        raise CacheError(f"message cache {target} is unreadable right after writing it")
    return found, True
