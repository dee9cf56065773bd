"""Where the replay's records come from, and message templates made ahead of their deadline.

- `IsdSource`: an ISD station-year read with `isd_decoder.read_isd`, messages built with `station.build`; every
  damaged line and a damaged file go to its `on_problem` sink as they are met (`station.input_errors`).
- `make_template` / `fill_template`: the encoded message split around seq and sent_at (and the time when
  shifted), so only a few microseconds of work remain once a record is due.
- `PreparedSource` (PRELOAD=true): every template made at start-up.

This module imports neither awscrt nor pydantic.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from station.input_errors import FILE_KIND, InputProblem, ProblemSink, problem_of


def _ignore(problem: InputProblem) -> None:
    """The default sink: problems are dropped (the replay passes an `InputErrorReporter.report`)."""


def count_lines(path: Path) -> int:
    """Lines of a plain or gzipped file (told apart by content), for the progress percentage; of a damaged .gz,
    the lines before the damage (never raises on damage or a missing file: reading the records reports it)."""
    from isd_decoder import open_isd

    count = 0
    try:
        with open_isd(path) as fh:
            # read1: what one step decompresses, so the blocks before the damage are counted
            for block in iter(lambda: fh.read1(1 << 16), b""):  # type: ignore[attr-defined]
                count += block.count(b"\n")
    except (EOFError, OSError, zlib.error):
        pass
    return count


class IsdSource:
    """An ISD station-year read with `isd_decoder.read_isd`, messages built with `station.build`.

    Each pass (`records()`) sends its problems to `on_problem` as they are met: skipped lines, and at most one file
    error (damaged or truncated file, or one that cannot be opened), after which the pass ends.
    """

    def __init__(self, path: Path, thing_name: str, on_problem: ProblemSink | None = None) -> None:
        from station.build import build_message, encode_message

        self.path = Path(path)
        self.thing_name = thing_name
        self.on_problem: ProblemSink = on_problem or _ignore
        self._build = build_message
        self._encode = encode_message

    def records(self) -> Iterator[Any]:
        from isd_decoder import read_isd

        sink = self.on_problem
        try:
            reader = read_isd(self.path, on_error=lambda error: sink(problem_of(error)))
        except OSError as exc:
            sink(InputProblem(1, FILE_KIND, f"{self.path} cannot be read: {exc.strerror or exc}"))
            return iter(())
        return iter(reader)

    def encode(self, record: Any, *, seq: int, sent_at: datetime, time: datetime | None) -> bytes:
        return self._encode(self._build(record, thing_name=self.thing_name, seq=seq, sent_at=sent_at, time=time))


_SEQ_MARK = 8_765_432_109_876_543
_SENT_MARK = datetime(1901, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
_TIME_MARK = datetime(1902, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


# (text to find, what is kept of it): the seq digits and the quoted times are cut out of the encoded message.
_MARKS = ((b'"seq":%d' % _SEQ_MARK, b'"seq":'),
          (b'"sent_at":"%s"' % _SENT_MARK.isoformat(timespec="milliseconds").encode(), b'"sent_at":"'))
_SHIFTED_MARKS = (*_MARKS, (b'"time":"%s"' % _TIME_MARK.isoformat().encode(), b'"time":"'))


def make_template(source: Any, record: Any, *, shifted: bool) -> tuple[bytes, ...]:
    """The encoded message of `record` split around seq, sent_at (and time when shifted), for `fill_template`.

    Built before the record's deadline so that only a few microseconds of work remain once it is due.
    """
    payload = source.encode(record, seq=_SEQ_MARK, sent_at=_SENT_MARK, time=_TIME_MARK if shifted else None)
    parts: list[bytes] = []
    rest = payload
    for mark, keep in _SHIFTED_MARKS if shifted else _MARKS:
        before, found, after = rest.partition(mark)
        if not found:
            raise RuntimeError(f"message template: {mark!r} not found in {payload[:200]!r}")
        parts.append(before + keep)
        rest = after if keep[-1] == 58 else b'"' + after  # 58 = ord(":"): seq is not quoted
    parts.append(rest)
    return tuple(parts)


def fill(prefix: bytes, parts: tuple[bytes, ...], seq: int, sent_at: datetime, time: datetime | None) -> bytes:
    """The message bytes of one station: `prefix` (its `{"thing_name":...,"seq":`) and `parts`, the template after
    it, spliced with these values; byte-identical to `IsdSource.encode` with them."""
    sent = sent_at.isoformat(timespec="milliseconds").encode()
    if len(parts) == 2:
        return b"%s%d%s%s%s" % (prefix, seq, parts[0], sent, parts[1])
    stamp = time.isoformat().encode()  # type: ignore[union-attr]
    return b"%s%d%s%s%s%s%s" % (prefix, seq, parts[0], sent, parts[1], stamp, parts[2])


def fill_template(parts: tuple[bytes, ...], seq: int, sent_at: datetime, time: datetime | None = None) -> bytes:
    """The message bytes of a whole template (`make_template`, prefix included)."""
    return fill(parts[0], parts[1:], seq, sent_at, time)


class PreparedRecord:
    """A record decoded ahead of time, with its message template."""

    __slots__ = ("line_number", "time", "parts")

    def __init__(self, line_number: int, time: datetime, parts: tuple[bytes, ...]) -> None:
        self.line_number = line_number
        self.time = time
        self.parts = parts


class PreparedSource:
    """PRELOAD=true: decode the whole file and make every message template at start-up. Publishing then costs a
    few microseconds per message instead of a decode + build: for load tests and fast backfills, at the price of
    start-up time and memory (every message of the file is held). The file's problems reach the inner source's
    sink once, during `prepare()`."""

    def __init__(self, inner: IsdSource, *, shifted: bool) -> None:
        self.path = inner.path
        self._inner = inner
        self._shifted = shifted
        self._items: list[PreparedRecord] | None = None
        self.prepare_s = 0.0

    def prepare(self) -> None:
        started = time.perf_counter()
        inner, shifted = self._inner, self._shifted
        self._items = [PreparedRecord(r.line_number, r.time, make_template(inner, r, shifted=shifted))
                       for r in inner.records()]
        self.prepare_s = time.perf_counter() - started

    @property
    def prepared(self) -> bool:
        return self._items is not None

    def records(self) -> Iterator[Any]:
        if self._items is None:
            self.prepare()
        return iter(self._items or ())

    def encode(self, record: Any, *, seq: int, sent_at: datetime, time: datetime | None) -> bytes:
        return self._inner.encode(record, seq=seq, sent_at=sent_at, time=time)


def peak_rss_mb() -> float | None:
    """This process's peak resident set size in MB (VmHWM; unlike ru_maxrss it does not count the pre-exec
    image of a big parent process)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return None
