"""The lake writer: what Kinesis Data Firehose does for the lab, on local disk.

Messages are buffered and flushed on size (`LAKE_BUFFER_BYTES`) or age (`LAKE_BUFFER_SECONDS`) into gzip
newline-delimited JSON files under `LAKE_DIR/sensor/weather/YYYY/MM/DD/HH/` (UTC hour of arrival), named like
Firehose's objects (`weather-lake-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`).

Exactly once, across crashes and restarts:
- a file is written under `LAKE_DIR/.state/tmp/`, fsynced, then renamed into its partition: no partial file is
  ever visible under the prefix;
- before the rename, one ledger transaction records the file and its (thing_name, seq) keys; recovery at
  start-up finishes any rename a crash interrupted;
- the MQTT acknowledgement of each message is sent only after its file is in place, so the broker redelivers
  whatever a crash lost, and the ledger drops what it has already written.

Payloads that are not a JSON object with a string `thing_name` and an integer `seq` are kept, with the reason,
under `LAKE_DIR/errors/<prefix>/...` (Firehose's error prefix) and never enter the lake.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from enum import StrEnum
from typing import Any

from pipeline.cold import ColdTable
from pipeline.errors import PipelineError
from pipeline.ledger import Ledger

log = logging.getLogger(__name__)

STREAM_NAME = "weather-lake"
ERRORS_DIR = "errors"
Ack = Callable[[Any], None]


@dataclass
class _Entry:
    key: tuple[str, int] | None  # None for an error record
    line: bytes
    received_at: datetime
    acks: list[Any] = field(default_factory=list)


@dataclass
class FlushResult:
    files: list[Path]
    records: int
    errors: int
    cold_items: int


class Intake(StrEnum):
    """What `LakeWriter.add` did with one payload."""

    BUFFERED = "buffered"    # new: in the buffer, acknowledged once it is in a lake file
    DUPLICATE = "duplicate"  # a redelivery (buffered or already in the lake): dropped
    ERROR = "error"          # not a weather message: kept under the errors folder


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def partition(received_at: datetime) -> str:
    """The `YYYY/MM/DD/HH` folder of an arrival time (UTC)."""
    return received_at.astimezone(timezone.utc).strftime("%Y/%m/%d/%H")


def lake_files(lake_root: Path) -> list[Path]:
    """Every visible lake file under `lake_root` (LAKE_DIR/prefix), in name order."""
    return sorted(lake_root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*.gz"))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def decode(payload: bytes) -> tuple[dict | None, str | None]:
    """The message as a dict, or None and the reason it cannot enter the lake."""
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8: {exc}"
    except (json.JSONDecodeError, ValueError) as exc:
        return None, f"not JSON: {exc}"
    if not isinstance(doc, dict):
        return None, f"not a JSON object but {type(doc).__name__}"
    if not isinstance(doc.get("thing_name"), str) or not doc["thing_name"]:
        return None, "no string thing_name"
    if not isinstance(doc.get("seq"), int) or isinstance(doc["seq"], bool) or doc["seq"] < 0:
        return None, "no non-negative integer seq"
    return doc, None


class LakeWriter:
    """Buffering, partitioning, atomic files and de-duplication; knows nothing of MQTT (acks are opaque)."""

    def __init__(self, lake_dir: Path, *, prefix: str = "sensor/weather", buffer_bytes: int = 5 * 1024 * 1024,
                 buffer_seconds: float = 60.0, ack: Ack = lambda token: None, cold: ColdTable | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        self.lake_dir = Path(lake_dir)
        self.prefix = prefix.strip("/")
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self._ack = ack
        self._cold = cold
        self._clock = clock
        self._lock = threading.RLock()
        self._buffer: list[_Entry] = []
        self._by_key: dict[tuple[str, int], _Entry] = {}
        self._bytes = 0
        self._oldest: float | None = None
        self.duplicates = 0
        self.cold_failures = 0
        self.tmp_dir = self.lake_dir / ".state" / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.lake_dir / ".state" / "writer.lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise PipelineError(f"another lake writer is running on {self.lake_dir} (LAKE_DIR): stop it first "
                                "(`make lake-down`, or Ctrl-C the `make lake` terminal)") from None
        self.ledger = Ledger(self.lake_dir / ".state" / "ledger.sqlite3")
        self.recover()

    def set_ack(self, ack: Ack) -> None:
        """Where acknowledgement tokens go once their message is in a lake file (the MQTT client)."""
        self._ack = ack

    # -- start-up -------------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish what a crash interrupted: rename committed temporary files, delete uncommitted ones."""
        for pending in self.ledger.pending():
            final, temp = self.lake_dir / pending.name, self.lake_dir / pending.temp
            if final.exists():
                temp.unlink(missing_ok=True)
            elif temp.exists():
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temp, final)
                _fsync_dir(final.parent)
                log.info("recovered %s", pending.name)
            else:
                lost = self.ledger.forget_file(pending.name)
                log.warning("committed file %s vanished; %d keys forgotten, the broker will redeliver them",
                            pending.name, lost)
                continue
            self.ledger.mark_done(pending.name)
        committed = {p.temp for p in self.ledger.pending()}
        for leftover in self.tmp_dir.iterdir():
            if str(leftover.relative_to(self.lake_dir)) not in committed:
                leftover.unlink()

    # -- intake ---------------------------------------------------------------------------------------------
    def add(self, payload: bytes, ack_token: Any = None) -> Intake:
        """Take one MQTT payload; returns what became of it. Flushes when the buffer is full."""
        received_at = self._clock()
        doc, reason = decode(payload)
        with self._lock:
            if doc is None:
                record = {"error": reason, "received_at": received_at.isoformat(timespec="milliseconds"),
                          "raw": payload.decode("utf-8", errors="replace")}
                self._append(_Entry(None, json.dumps(record).encode(), received_at, [ack_token]))
                log.warning("payload rejected (%s); kept under %s/", reason, ERRORS_DIR)
                status = Intake.ERROR
            else:
                key = (doc["thing_name"], doc["seq"])
                if key in self._by_key:  # a redelivery of a message still in the buffer
                    self._by_key[key].acks.append(ack_token)
                    self.duplicates += 1
                    return Intake.DUPLICATE
                if self.ledger.seen(*key):  # already in a visible lake file
                    self.duplicates += 1
                    self._ack_one(ack_token)
                    return Intake.DUPLICATE
                line = payload.strip()
                if b"\n" in line or b"\r" in line:
                    line = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
                entry = _Entry(key, line, received_at, [ack_token])
                self._by_key[key] = entry
                self._append(entry)
                status = Intake.BUFFERED
            if self._bytes >= self.buffer_bytes:
                self.flush()
            return status

    def _append(self, entry: _Entry) -> None:
        if not self._buffer:
            self._oldest = time.monotonic()
        self._buffer.append(entry)
        self._bytes += len(entry.line) + 1

    def due(self) -> bool:
        with self._lock:
            return bool(self._buffer) and (self._bytes >= self.buffer_bytes or
                                           time.monotonic() - (self._oldest or 0) >= self.buffer_seconds)

    def run_timer(self, stop: threading.Event, tick: float | None = None) -> None:
        """Flush on age until `stop` is set (run in a thread)."""
        tick = tick or max(0.05, min(1.0, self.buffer_seconds / 10))
        while not stop.wait(tick):
            if self.due():
                try:
                    self.flush()
                except Exception:  # noqa: BLE001 - keep the timer alive; the buffer stays for the next try
                    log.exception("flush failed; will retry")

    # -- output ---------------------------------------------------------------------------------------------
    def flush(self) -> FlushResult:
        """Write the buffer out (one file per arrival hour), then acknowledge its messages."""
        with self._lock:
            entries, self._buffer, self._by_key, self._bytes, self._oldest = self._buffer, [], {}, 0, None
            try:
                return self._write(entries)
            except BaseException:
                # Nothing was acknowledged: put the batch back so a later flush (or the broker) retries it.
                self._buffer = entries + self._buffer
                self._by_key = {e.key: e for e in self._buffer if e.key is not None}
                self._bytes = sum(len(e.line) + 1 for e in self._buffer)
                self._oldest = time.monotonic()
                raise

    def _write(self, entries: list[_Entry]) -> FlushResult:
        result = FlushResult([], 0, 0, 0)
        if not entries:
            return result
        # After a failed flush the batch is retried: whatever part of it was committed must not be written twice.
        good = [e for e in entries if e.key is not None and not self.ledger.seen(*e.key)]
        bad = [e for e in entries if e.key is None]
        if good and self._cold is not None:
            # Idempotent (keyed puts), so doing it before the commit loses nothing and repeats harmlessly.
            # A failing rule action must not stop the lake (on AWS each rule action fails on its own).
            try:
                result.cold_items = self._cold.apply([e.line for e in good])
            except Exception:  # noqa: BLE001
                self.cold_failures += len(good)
                log.exception("cold-readings rule failed for %d messages; the lake keeps them: run "
                              "`pipeline cold --backfill` once the cause is fixed", len(good))
        for group in self._by_hour(good):
            result.files.append(self._write_file(group, self.prefix, commit=True))
            result.records += len(group)
        for group in self._by_hour(bad):
            result.files.append(self._write_file(group, f"{ERRORS_DIR}/{self.prefix}", commit=False))
            result.errors += len(group)
        for entry in entries:
            for token in entry.acks:
                self._ack_one(token)
        log.info("flushed %d records (%d errors) into %d files", result.records, result.errors, len(result.files))
        return result

    @staticmethod
    def _by_hour(entries: list[_Entry]) -> Iterator[list[_Entry]]:
        groups: dict[str, list[_Entry]] = {}
        for entry in entries:
            groups.setdefault(partition(entry.received_at), []).append(entry)
        yield from groups.values()

    def _write_file(self, group: list[_Entry], prefix: str, *, commit: bool) -> Path:
        first = min(e.received_at for e in group)
        name = f"{STREAM_NAME}-1-{first.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid.uuid4()}.gz"
        final = self.lake_dir / prefix / partition(first) / name
        temp = self.tmp_dir / f"{name}.tmp"
        with open(temp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                for entry in group:
                    gz.write(entry.line + b"\n")
            raw.flush()
            os.fsync(raw.fileno())
        rel_final, rel_temp = str(final.relative_to(self.lake_dir)), str(temp.relative_to(self.lake_dir))
        if commit:
            self.ledger.commit_file(rel_final, rel_temp, [
                (e.key[0], e.key[1], e.received_at.isoformat(timespec="milliseconds")) for e in group if e.key
            ])
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        _fsync_dir(final.parent)
        if commit:
            self.ledger.mark_done(rel_final)
        return final

    def _ack_one(self, token: Any) -> None:
        if token is None:
            return
        try:
            self._ack(token)
        except Exception:  # noqa: BLE001 - a lost ack only means a redelivery, which the ledger drops
            log.exception("acknowledgement failed")

    def close(self) -> None:
        """Flush what is buffered and close the ledger."""
        with self._lock:
            try:
                self.flush()
            finally:
                self.ledger.close()
                self._lock_file.close()  # releases the writer lock

    @property
    def buffered(self) -> int:
        with self._lock:
            return len(self._buffer)
