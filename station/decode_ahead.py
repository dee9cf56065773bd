"""Decode ahead in a helper process: an unthrottled replay's ISD decoding and message building run beside the
publishing loop instead of taking turns with it.

In one process, the decode (pure Python, ~50 us a record) holds the GIL that awscrt's event-loop thread needs for
every PUBACK callback, so decoding and publishing alternate and the rate is bounded by their sum. Here a small
process (`python -m station.decode_ahead FILE THING SHIFTED`: only `isd_decoder`, `station.build` and orjson, no
awscrt or pydantic) reads the file and writes the message templates of `station.sources.make_template` to its
stdout in batches; the station reads them as it publishes. Memory stays flat: the worker blocks when the pipe is
full, so at most a few batches exist at any time, whatever the file size.

Frames: a 4-byte big-endian length, then a `marshal`-encoded tuple: ("r", [(line, time_iso, parts), ...]) for a
batch of records, ("p", [(line, kind, message), ...]) for the input problems met since the last frame (sent
before the records that follow them, and whenever BATCH of them are pending, so a file of garbage is reported
as it is read, in constant memory), ("e", peak_rss_mb, private_mb) once at the end (the worker's memory only
grows, so its private memory at the end is its peak). The station hands each problem to the inner source's
`on_problem` sink as its frame arrives. A worker that dies without the end frame makes the reading side raise
`DecodeAheadError` (its traceback is on the station's stderr).
"""

from __future__ import annotations

import marshal
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from station.errors import StationError
from station.input_errors import InputProblem
from station.sources import IsdSource, PreparedRecord, make_template, peak_rss_mb, private_memory_mb

BATCH = 128  # records per frame (about 150 KB of templates)
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class DecodeAheadError(StationError):
    """The decode-ahead worker stopped without finishing the file."""


class DecodeAheadSource:
    """A `Source` whose records (with their templates, like PRELOAD's) come from a decode-ahead worker process.

    One worker per pass over the file (`records()`); `start()` launches the first one early so its start-up
    overlaps the connection. `worker_peak_rss_mb` is the largest peak RSS (VmHWM) a worker reported,
    `worker_private_mb` the largest private memory (USS: what it adds beside the station, whose Python binary and
    libraries it shares).
    """

    def __init__(self, inner: IsdSource, *, shifted: bool) -> None:
        self.path = inner.path
        self._inner = inner
        self._shifted = shifted
        self._started: subprocess.Popen[bytes] | None = None
        self.worker_peak_rss_mb: float | None = None
        self.worker_private_mb: float | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        return subprocess.Popen(
            [sys.executable, "-m", "station.decode_ahead", str(self.path), self._inner.thing_name,
             "1" if self._shifted else "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env, bufsize=1 << 16)

    def start(self) -> None:
        if self._started is None:
            self._started = self._spawn()

    def records(self) -> Iterator[PreparedRecord]:
        proc, self._started = self._started or self._spawn(), None
        return self._read(proc)

    def _read(self, proc: subprocess.Popen[bytes]) -> Iterator[PreparedRecord]:
        stream = proc.stdout
        assert stream is not None
        fromiso = datetime.fromisoformat
        try:
            while True:
                frame = _read_frame(stream)
                if frame is None:
                    code = proc.wait()
                    raise DecodeAheadError(f"decode-ahead worker for {self.path} stopped (exit code {code}) "
                                           "before the end of the file; its error is logged above")
                if frame[0] == "r":
                    for line, stamp, parts in frame[1]:
                        yield PreparedRecord(line, fromiso(stamp), parts)
                    continue
                if frame[0] == "p":
                    sink = self._inner.on_problem
                    for problem in frame[1]:
                        sink(InputProblem(*problem))
                    continue
                _, rss, private = frame
                if rss is not None:
                    self.worker_peak_rss_mb = max(rss, self.worker_peak_rss_mb or 0.0)
                if private is not None:
                    self.worker_private_mb = max(private, self.worker_private_mb or 0.0)
                return
        finally:
            _stop(proc)

    def encode(self, record: Any, *, seq: int, sent_at: datetime, time: datetime | None) -> bytes:
        return self._inner.encode(record, seq=seq, sent_at=sent_at, time=time)

    def close(self) -> None:
        """Stop a worker started ahead and never read."""
        if self._started is not None:
            _stop(self._started)
            self._started = None


def _read_frame(stream: BinaryIO) -> tuple | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    body = stream.read(size)
    if len(body) < size:
        return None
    return marshal.loads(body)  # type: ignore[no-any-return]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdout is not None:
        proc.stdout.close()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _write_frame(out: BinaryIO, frame: tuple) -> None:
    body = marshal.dumps(frame)
    out.write(len(body).to_bytes(4, "big"))
    out.write(body)


def worker(path: str, thing_name: str, shifted: bool, out: BinaryIO) -> None:
    """Decode `path` and write its templates to `out` (see the module docstring)."""
    problems: list[tuple[int, str, str]] = []

    def send_problems() -> None:
        if problems:
            _write_frame(out, ("p", problems))
            problems.clear()

    def on_problem(problem: InputProblem) -> None:
        problems.append(tuple(problem))  # type: ignore[arg-type]
        if len(problems) >= BATCH:
            send_problems()

    source = IsdSource(Path(path), thing_name, on_problem)
    batch: list[tuple[int, str, tuple[bytes, ...]]] = []
    for record in source.records():
        batch.append((record.line_number, record.time_iso, make_template(source, record, shifted=shifted)))
        if len(batch) >= BATCH:
            send_problems()
            _write_frame(out, ("r", batch))
            batch = []
    send_problems()
    if batch:
        _write_frame(out, ("r", batch))
    _write_frame(out, ("e", peak_rss_mb(), private_memory_mb()))
    out.flush()


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the station stops us
    path, thing_name, shifted = argv
    try:
        worker(path, thing_name, shifted == "1", sys.stdout.buffer)
    except BrokenPipeError:  # the station stopped reading (stop request)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
