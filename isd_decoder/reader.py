"""Streaming ISD reader: a path (plain or gzip) or a binary file object in, `IsdRecord`s out, line by line."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from isd_decoder.decode import decode_line
from isd_decoder.errors import IsdError, IsdFileError, IsdLineError
from isd_decoder.record import IsdRecord

GZIP_MAGIC = b"\x1f\x8b"
MAX_KEPT_ERRORS = 10_000  # errors kept in `reader.errors`; `reader.stats` counts every one


@dataclass
class IsdStats:
    """Counts kept while reading: every line is either a record or a skipped line."""

    lines: int = 0
    records: int = 0
    skipped: int = 0
    skipped_by_kind: Counter[str] = field(default_factory=Counter)
    unknown_identifiers: Counter[str] = field(default_factory=Counter)
    file_error: bool = False


class _Prefixed(io.RawIOBase):
    """A non-seekable binary stream with bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_isd(path: str | os.PathLike[str]) -> BinaryIO:
    """The file at `path` as a binary stream of ISD lines, gunzipped when it starts with the gzip magic bytes
    (whatever its name). The one place that decides plain or gzip; the caller closes the stream."""
    with open(path, "rb") as fh:
        head = fh.read(len(GZIP_MAGIC))
    if head == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def _open(source: str | os.PathLike[str] | BinaryIO) -> tuple[BinaryIO, bool, str]:
    """Open `source` for binary line iteration, gunzipping when it starts with the gzip magic bytes.

    Returns (stream, whether we own it and must close it, a name for messages).
    """
    if isinstance(source, (str, os.PathLike)):
        return open_isd(source), True, os.fspath(source)
    name = getattr(source, "name", "<stream>")
    if isinstance(name, int):
        name = "<stream>"
    raw, owned = source, False
    head = _peek(raw)
    if head[:2] == GZIP_MAGIC:
        if hasattr(raw, "peek") or raw.seekable():
            return gzip.GzipFile(fileobj=raw, mode="rb"), owned, name  # type: ignore[return-value]
        return gzip.GzipFile(fileobj=_Prefixed(head, raw), mode="rb"), owned, name  # type: ignore[return-value]
    if not (hasattr(raw, "peek") or raw.seekable()):
        return io.BufferedReader(_Prefixed(head, raw)), owned, name  # type: ignore[return-value]
    return raw, owned, name


def _peek(raw: BinaryIO) -> bytes:
    if hasattr(raw, "peek"):
        return raw.peek(2)[:2]
    if raw.seekable():
        where = raw.tell()
        head = raw.read(2)
        raw.seek(where)
        return head
    return raw.read(2)


class IsdReader:
    """Iterate once over the records of one ISD file; damaged lines go to `errors` and `stats`.

    `errors` keeps the first MAX_KEPT_ERRORS line errors (a file of garbage must not fill the memory) and
    always the file error, if any; `stats` counts every skipped line.

    `on_error`, when given, is called with every error as it is met (every line error, beyond MAX_KEPT_ERRORS
    too, and the file error), so a caller can report them while reading.

    Use it as a context manager (or exhaust it) so a file opened from a path is closed.
    """

    def __init__(self, source: str | os.PathLike[str] | BinaryIO,
                 on_error: Callable[[IsdError], None] | None = None) -> None:
        self.stats = IsdStats()
        self.errors: list[IsdLineError | IsdFileError] = []
        self._on_error = on_error
        self._stream, self._owned, self.name = _open(source)
        self._outer = source if self._owned is False else None
        self._iterator: Iterator[IsdRecord] | None = None

    def __iter__(self) -> Iterator[IsdRecord]:
        if self._iterator is None:
            self._iterator = self._records()
        return self._iterator

    def __enter__(self) -> IsdReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close what this reader opened (a caller's file object stays open)."""
        if self._owned or self._stream is not self._outer:
            # A GzipFile wrapping the caller's stream does not close that stream.
            self._stream.close()

    def _records(self) -> Iterator[IsdRecord]:
        stats = self.stats
        decode = decode_line
        number = 0
        try:
            for line in self._stream:
                number += 1
                try:
                    record = decode(line, number)
                except IsdLineError as error:
                    stats.skipped += 1
                    stats.skipped_by_kind[error.kind] += 1
                    if len(self.errors) < MAX_KEPT_ERRORS:
                        self.errors.append(error)
                    if self._on_error is not None:
                        self._on_error(error)
                    continue
                if record.unknown_identifier is not None:
                    stats.unknown_identifiers[record.unknown_identifier] += 1
                stats.records += 1
                yield record
        except (EOFError, OSError, zlib.error) as exc:
            stats.file_error = True
            file_error = IsdFileError(number + 1, f"{self.name} is damaged or truncated ({type(exc).__name__}: "
                                      f"{exc}); reading stopped after line {number}")
            self.errors.append(file_error)
            if self._on_error is not None:
                self._on_error(file_error)
        finally:
            stats.lines = number
            self.close()


def read_isd(source: str | os.PathLike[str] | BinaryIO,
             on_error: Callable[[IsdError], None] | None = None) -> IsdReader:
    """Open an ISD file (path, plain or .gz, or binary file object) for streaming iteration; `on_error` is called
    with each line error and the file error as they are met."""
    return IsdReader(source, on_error)
