"""The lake writer: what Kinesis Data Firehose does for the lab, on local disk.

Messages are buffered and flushed on size (`LAKE_BUFFER_BYTES`) or age (`LAKE_BUFFER_SECONDS`) into gzip
newline-delimited JSON files under `LAKE_DIR/sensor/weather/YYYY/MM/DD/HH/` (UTC hour of arrival), named like
Firehose's objects (`weather-lake-1-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`).

Exactly once, across crashes and restarts:
- a file is written under `LAKE_DIR/.state/tmp/`, fsynced, then renamed into its partition: no partial file is
  ever visible under the prefix;
- before the rename, one ledger transaction records the file and its (publisher, seq) keys with a digest of
  each body; recovery at start-up finishes any rename a crash interrupted;
- the MQTT acknowledgement of each message is sent only after its file is in place, so the broker redelivers
  whatever a crash lost, and the ledger drops what it has already written.

Identity (docs/security.md): each message comes with `publisher`, the identity the broker authenticated (the
fleet_identity plugin's `fleet-publisher` property), and every stored record carries it as an extra field
`publisher`. A message is stored only as its publisher's own data:
- `thing_name` differs from the publisher, or no publisher while `require_publisher` -> quarantined under
  `LAKE_DIR/quarantine/<prefix>/...` with the reason, counted and logged, never in the lake;
- the same (publisher, seq) again with the same body -> a redelivery, dropped; with a different body -> a
  conflict, kept under `LAKE_DIR/conflicts/<prefix>/...`, counted and logged; the first body stays in the lake.

Payloads that are not a JSON object with a string `thing_name` and an integer `seq`, or whose fields do not have
the contract's types (`pipeline.contract`: a reading as a string, NaN), are kept, with the reason,
under `LAKE_DIR/errors/<prefix>/...` (Firehose's error prefix) and never enter the lake. Error, quarantine and
conflict files are acknowledged once written, like the lake's (a crash in between may write one twice).

Over ~400 lines on purpose: buffering, flushing, the ledger transaction and the acknowledgement order are one
exactly-once protocol, kept in one module so that its order of steps can be read and checked in one place.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cold import ColdTable
from pipeline.contract import type_problem
from pipeline.errors import PipelineError
from pipeline.ledger import Ledger

if TYPE_CHECKING:
    from pipeline.lake_metrics import LakeMetrics

log = logging.getLogger(__name__)

STREAM_NAME = "weather-lake"
ERRORS_DIR = "errors"
QUARANTINE_DIR = "quarantine"
CONFLICTS_DIR = "conflicts"
PUBLISHER_FIELD = "publisher"
Ack = Callable[[Any], None]


class Outcome(StrEnum):
    """What `LakeWriter.add` did with a message."""

    BUFFERED = "buffered"        # will be in the lake after the next flush
    DUPLICATE = "duplicate"      # same publisher, seq and body as one already taken: dropped
    CONFLICT = "conflict"        # same publisher and seq, different body: kept under conflicts/
    QUARANTINED = "quarantined"  # not its publisher's own data: kept under quarantine/
    ERROR = "error"              # not a valid message: kept under errors/


class Quarantine(StrEnum):
    """Why a message was quarantined."""

    NOT_PUBLISHER = "thing_name is not the authenticated publisher"
    NO_PUBLISHER = "no authenticated publisher (broker without the fleet_identity plugin?)"


class _Kind(Enum):
    LAKE = ""
    ERROR = ERRORS_DIR
    QUARANTINE = QUARANTINE_DIR
    CONFLICT = CONFLICTS_DIR


@dataclass
class _Entry:
    key: tuple[str, int] | None  # (publisher, seq) of a lake record; None for the other kinds
    line: bytes
    received_at: datetime
    acks: list[Any] = field(default_factory=list)
    kind: _Kind = _Kind.LAKE
    digest: str = ""
    sent_at: float | None = None  # the message's sent_at (Unix time), for the end-to-end latency metric


@dataclass
class FlushResult:
    files: list[Path]
    records: int
    errors: int
    cold_items: int
    quarantined: int = 0
    conflicts: int = 0


def body_digest(payload: bytes) -> str:
    """What deduplication compares: the SHA-256 of the payload as published (surrounding whitespace aside)."""
    return hashlib.sha256(payload.strip()).hexdigest()


def with_publisher(payload: bytes, doc: dict, publisher: str | None) -> bytes:
    """The stored line: the payload plus `"publisher": ...` (spliced in, or re-encoded when it must be)."""
    line = payload.strip()
    if PUBLISHER_FIELD in doc or b"\n" in line or b"\r" in line:
        # A payload that names its own publisher is overruled; one spanning lines is re-encoded on one line.
        return json.dumps({**doc, PUBLISHER_FIELD: publisher}, separators=(",", ":"), ensure_ascii=False).encode()
    return line[:-1].rstrip() + b',"' + PUBLISHER_FIELD.encode() + b'":' + json.dumps(publisher).encode() + b"}"


class _Throttled:
    """Log the first `burst` events of a kind, then one in `every` (with the running count)."""

    def __init__(self, burst: int = 20, every: int = 1000) -> None:
        self.burst, self.every = burst, every

    def __call__(self, count: int, message: str, *args: object) -> None:
        if count <= self.burst or count % self.every == 0:
            log.warning(message + " [%d so far]", *args, count)


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


def sent_at_of(doc: dict) -> float | None:
    """A message's `sent_at` as Unix time, or None when it has none that parses."""
    value = doc.get("sent_at")
    try:
        return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else None
    except ValueError:
        return None


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
    problem = type_problem(doc)
    if problem is not None:
        return None, f"wrong type: {problem}"
    return doc, None


class LakeWriter:
    """Buffering, partitioning, atomic files and de-duplication; knows nothing of MQTT (acks are opaque)."""

    def __init__(self, lake_dir: Path, *, prefix: str = "sensor/weather", buffer_bytes: int = 5 * 1024 * 1024,
                 buffer_seconds: float = 60.0, ack: Ack = lambda token: None, cold: ColdTable | None = None,
                 clock: Callable[[], datetime] = _utc_now, require_publisher: bool = True,
                 metrics: LakeMetrics | None = None) -> None:
        self.lake_dir = Path(lake_dir)
        self.prefix = prefix.strip("/")
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self.require_publisher = require_publisher
        self._ack = ack
        self._cold = cold
        self._clock = clock
        self._lock = threading.RLock()
        self._buffer: list[_Entry] = []
        self._by_key: dict[tuple[str, int], _Entry] = {}
        self._bytes = 0
        self._oldest: float | None = None
        self.duplicates = 0
        self.conflicts = 0
        self.quarantined = 0
        self.errors = 0
        self.cold_failures = 0
        self.stored = 0
        self.files_written = 0
        self._metrics = metrics
        self._warn = _Throttled()
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
    def add(self, payload: bytes, ack_token: Any = None, publisher: str | None = None) -> Outcome:
        """Take one MQTT payload published by `publisher` (the broker-authenticated identity, None if unknown).

        Flushes when the buffer is full. Returns what became of the message (see `Outcome`).
        """
        received_at = self._clock()
        doc, reason = decode(payload)
        with self._lock:
            if doc is None:
                self.errors += 1
                self._append(self._side_entry(_Kind.ERROR, {"error": reason}, payload, publisher, received_at,
                                              ack_token))
                self._warn(self.errors, "payload from %s rejected (%s); kept under %s/", publisher, reason,
                           ERRORS_DIR)
                status = Outcome.ERROR
            else:
                status = self._add_message(doc, payload, ack_token, publisher, received_at)
                if status is Outcome.DUPLICATE:
                    return status
            if self._bytes >= self.buffer_bytes:
                self.flush()
            return status

    def _add_message(self, doc: dict, payload: bytes, ack_token: Any, publisher: str | None,
                     received_at: datetime) -> Outcome:
        thing, seq = doc["thing_name"], doc["seq"]
        why = (Quarantine.NO_PUBLISHER if publisher is None and self.require_publisher
               else Quarantine.NOT_PUBLISHER if publisher is not None and publisher != thing else None)
        if why is not None:
            self.quarantined += 1
            self._append(self._side_entry(_Kind.QUARANTINE, {"reason": why.value}, payload, publisher,
                                          received_at, ack_token))
            self._warn(self.quarantined, "quarantined %s seq %d published by %s: %s (kept under %s/)", thing, seq,
                       publisher, why.value, QUARANTINE_DIR)
            return Outcome.QUARANTINED
        key, digest = (publisher or thing, seq), body_digest(payload)
        buffered = self._by_key.get(key)
        stored = None if buffered is not None else self.ledger.lookup(*key)
        if buffered is not None or stored is not None:
            known = buffered.digest if buffered is not None else stored.digest  # type: ignore[union-attr]
            # A ledger row from before digests were kept (digest None) cannot be compared: a redelivery.
            if known is None or known == digest:
                self.duplicates += 1
                if buffered is not None:  # acknowledged with the buffered copy
                    buffered.acks.append(ack_token)
                else:
                    self._ack_one(ack_token)
                return Outcome.DUPLICATE
            self.conflicts += 1
            where = "the buffer" if buffered is not None else stored.file  # type: ignore[union-attr]
            self._append(self._side_entry(
                _Kind.CONFLICT, {"conflict": "same publisher and seq as a stored message, different body",
                                 "thing_name": thing, "seq": seq, "stored_in": where},
                payload, publisher, received_at, ack_token))
            self._warn(self.conflicts, "conflict: %s seq %d arrived again with a different body; the first one "
                       "stays in the lake (in %s), this one is kept under %s/", key[0], seq, where, CONFLICTS_DIR)
            return Outcome.CONFLICT
        entry = _Entry(key, with_publisher(payload, doc, publisher), received_at, [ack_token], digest=digest,
                       sent_at=sent_at_of(doc) if self._metrics is not None else None)
        self._by_key[key] = entry
        self._append(entry)
        return Outcome.BUFFERED

    @staticmethod
    def _side_entry(kind: _Kind, fields: dict, payload: bytes, publisher: str | None, received_at: datetime,
                    ack_token: Any) -> _Entry:
        """A record for errors/, quarantine/ or conflicts/: why, who published it, when, and the raw payload."""
        record = {**fields, PUBLISHER_FIELD: publisher, "received_at": received_at.isoformat(timespec="milliseconds"),
                  "raw": payload.decode("utf-8", errors="replace")}
        return _Entry(None, json.dumps(record).encode(), received_at, [ack_token], kind=kind)

    def _append(self, entry: _Entry) -> None:
        if not self._buffer:
            self._oldest = time.monotonic()
        self._buffer.append(entry)
        self._bytes += len(entry.line) + 1

    def buffer_state(self) -> tuple[int, float]:
        """Bytes buffered and the age (seconds) of the oldest buffered entry (0 when empty)."""
        with self._lock:
            return self._bytes, (time.monotonic() - self._oldest) if self._oldest is not None else 0.0

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
        started = time.monotonic()
        # After a failed flush the batch is retried: whatever part of it was committed must not be written twice.
        good = [e for e in entries if e.kind is _Kind.LAKE and e.key is not None and not self.ledger.seen(*e.key)]
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
        for kind in (_Kind.ERROR, _Kind.QUARANTINE, _Kind.CONFLICT):
            for group in self._by_hour([e for e in entries if e.kind is kind]):
                result.files.append(self._write_file(group, f"{kind.value}/{self.prefix}", commit=False))
                if kind is _Kind.ERROR:
                    result.errors += len(group)
                elif kind is _Kind.QUARANTINE:
                    result.quarantined += len(group)
                else:
                    result.conflicts += len(group)
        self.stored += result.records
        self.files_written += len(result.files)
        if self._metrics is not None:
            now = time.time()
            self._metrics.flushed(time.monotonic() - started, (now - e.sent_at for e in good if e.sent_at))
        for entry in entries:
            for token in entry.acks:
                self._ack_one(token)
        log.info("flushed %d records (%d errors, %d quarantined, %d conflicts) into %d files", result.records,
                 result.errors, result.quarantined, result.conflicts, len(result.files))
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
                (e.key[0], e.key[1], e.received_at.isoformat(timespec="milliseconds"), e.digest)
                for e in group if e.key
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
