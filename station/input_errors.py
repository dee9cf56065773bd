"""Damaged input, reported as it is met: line errors logged with their line numbers (rate-limited), the file error
once, and counts per kind for the end summary.

Invariants:
- every problem is counted (`counts` by kind), whether its line was logged or suppressed;
- the first `first` line errors are logged, then at most one per `interval` seconds, which carries the number of
  line errors not shown since the last one logged (`suppressed=`); `finish()` logs what is still unshown;
- the file error (a truncated or corrupt .gz, an unreadable file) is logged once per file, at ERROR.

This module imports neither awscrt nor pydantic.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from station.logging_setup import emit

FILE_KIND = "file"  # the kind of a damaged-file problem (IsdFileError.kind); every other kind is a line's


class InputProblem(NamedTuple):
    """One skipped line (`kind` e.g. 'digits', 'length') or the file error (`kind` 'file'); `message` has no
    'line N:' prefix (the line number is a field of its own)."""

    line_number: int
    kind: str
    message: str

    @property
    def is_file_error(self) -> bool:
        return self.kind == FILE_KIND


ProblemSink = Callable[[InputProblem], None]


def problem_of(error: Any) -> InputProblem:
    """The InputProblem of an `isd_decoder` IsdLineError / IsdFileError (which carry these three attributes)."""
    return InputProblem(int(error.line_number), str(error.kind), str(error.message))


class InputErrorReporter:
    """Logs and counts the problems of one data file (see the module docstring); `report` is a ProblemSink."""

    def __init__(self, logger: logging.Logger, path: Path | str, *, first: int = 10, interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self.path = str(path)
        self.first = first
        self.interval = interval
        self._clock = clock
        self.counts: Counter[str] = Counter()
        self.file_error: InputProblem | None = None
        self._shown = 0
        self._suppressed = 0
        self._next_show = 0.0

    @property
    def skipped(self) -> int:
        """Lines skipped (line errors of every kind; the file error is not a line)."""
        return sum(n for kind, n in self.counts.items() if kind != FILE_KIND)

    def report(self, problem: InputProblem) -> None:
        if problem.is_file_error:
            if self.file_error is None:
                self.file_error = problem
                self.counts[FILE_KIND] += 1
                emit(self._log, logging.ERROR, "file-damaged", problem.message, file=self.path,
                     last_good_line=problem.line_number - 1)
            return
        self.counts[problem.kind] += 1
        now = self._clock()
        if self._shown < self.first or now >= self._next_show:
            extra = {"suppressed": self._suppressed} if self._suppressed else {}
            emit(self._log, logging.WARNING, "line-skipped", problem.message, line=problem.line_number,
                 kind=problem.kind, file=self.path, **extra)
            self._shown += 1
            self._suppressed = 0
            if self._shown >= self.first:
                self._next_show = now + self.interval
        else:
            self._suppressed += 1

    def known(self, counts: dict[str, int], file_error: InputProblem | None) -> None:
        """Problems met in an earlier read of the file (a reused message cache): the lines counted and summed up
        in one line, the file error reported again."""
        self.counts.update(counts)
        if counts:
            emit(self._log, logging.WARNING, "line-skipped", f"{sum(counts.values())} damaged lines skipped (each "
                 "was logged when the message cache was made)", file=self.path)
        if file_error is not None:
            self.report(file_error)

    def finish(self) -> None:
        """Log the number of line errors not shown since the last one logged (at the end of a pass)."""
        if self._suppressed:
            emit(self._log, logging.WARNING, "line-skipped", f"{self._suppressed} more skipped lines not shown",
                 file=self.path, suppressed=self._suppressed)
            self._suppressed = 0

    def kinds_text(self) -> str:
        """'digits:3,length:1' (line errors by kind, for the summary); '' when none."""
        return ",".join(f"{kind}:{n}" for kind, n in sorted(self.counts.items()) if kind != FILE_KIND)
