"""Where a lane's records come from, one pass at a time: `CacheFeed` (the shared message cache of a group) or
`SourceFeed` (one station's own source read as it publishes: streaming or PRELOAD).

Both give records with `line_number`, `time` and `parts`: the message template after the station prefix
(`station.sources.fill` splices prefix, seq, sent_at and time in). `restart(skip_through, start_at)` begins a
pass, leaving out lines up to `skip_through` and records before `start_at`; `next()` is None at its end. After
a pass: `file_error` (why reading stopped early: a damaged file), `decoded` (records of the file, whether left
out or not: 0 means no decodable record) and `skipped` (damaged lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from station.engine.cache import MessageCache
from station.sources import PreparedRecord, PreparedSource, make_template


RELEASE_EVERY = 1023  # records between two releases of the pages read (a mask: every 1024)


class CacheFeed:
    """A lane's position in a shared `MessageCache` (a few bytes a lane: the cache itself is mapped once)."""

    __slots__ = ("cache", "_index", "_end", "_release")

    def __init__(self, cache: MessageCache, *, release_behind: bool = False) -> None:
        self.cache = cache
        self._index = self._end = 0
        self._release = release_behind  # one station alone on the cache: its read pages leave its RSS

    @property
    def file_error(self) -> str | None:
        return self.cache.file_error

    @property
    def decoded(self) -> int:
        return len(self.cache)

    @property
    def skipped(self) -> int:
        return self.cache.skipped_count

    def restart(self, skip_through: int, start_at: datetime | None) -> None:
        self._index, self._end = self.cache.start_index(skip_through, start_at), len(self.cache)

    def next(self) -> Any:
        i = self._index
        if i >= self._end:
            return None
        self._index = i + 1
        if self._release and not i & RELEASE_EVERY:
            self.cache.release_before(i)
        return self.cache.record(i)


class SourceFeed:
    """One station's source read pass by pass, `read_ahead` records decoded at a time (unthrottled, decoding in
    bursts hands the GIL to the CRT thread far less often than alternating record by record)."""

    def __init__(self, source: Any, *, shifted: bool, file_error: Callable[[], str | None],
                 skipped: Callable[[], int], pass_ended: Callable[[], None], read_ahead: int = 1) -> None:
        self.source = source
        self._shifted = shifted
        self._file_error, self._skipped, self._pass_ended = file_error, skipped, pass_ended
        self._read_ahead = read_ahead
        self._records: Iterator[Any] = iter(())
        self.decoded = 0

    @property
    def file_error(self) -> str | None:
        return self._file_error()

    @property
    def skipped(self) -> int:
        return self._skipped()

    def restart(self, skip_through: int, start_at: datetime | None) -> None:
        self.decoded = 0
        self._records = self._due(skip_through, start_at)

    def next(self) -> Any:
        return next(self._records, None)

    def _due(self, skip_through: int, start_at: datetime | None) -> Iterator[PreparedRecord]:
        source, shifted = self.source, self._shifted
        prepared = isinstance(source, PreparedSource)  # templates made already
        records = iter(source.records())
        started = start_at is None
        while batch := list(islice(records, self._read_ahead)):
            self.decoded += len(batch)
            due = []
            for record in batch:
                if record.line_number <= skip_through:
                    continue
                if not started:
                    if record.time < start_at:  # type: ignore[operator]
                        continue
                    started = True
                parts = record.parts if prepared else make_template(source, record, shifted=shifted)
                due.append(PreparedRecord(record.line_number, record.time, parts[1:]))
            yield from due
        self._pass_ended()

