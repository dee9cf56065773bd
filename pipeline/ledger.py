"""The lake writer's durable memory (SQLite): which (publisher, seq) are in the lake, with which body digest, in
which file, and when each arrived; and which files are committed but perhaps not yet renamed into place.

The key column is named `thing_name`: a stored message's thing_name is always its authenticated publisher (or,
with LAKE_REQUIRE_PUBLISHER=false and no publisher known, the payload's claim). `digest` (SHA-256 of the body)
tells a redelivery from a conflicting message; rows written before it existed have NULL there.

A batch is committed in one transaction (its keys + its file row, state `pending`) after its temporary file is
complete and fsynced, and before the rename that makes it visible. Recovery rolls pending files forward, so a
key in the ledger always means "in a visible lake file", even after a crash at any point.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.sqlite_store import open_store

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
  thing_name TEXT NOT NULL,
  seq INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  file TEXT NOT NULL,
  digest TEXT,
  PRIMARY KEY (thing_name, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
  name TEXT PRIMARY KEY,
  temp TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done')),
  records INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class SeenKey:
    file: str  # the lake file holding it, relative to the lake directory
    digest: str | None  # None for rows from before digests were recorded


@dataclass(frozen=True)
class PendingFile:
    name: str  # final path, relative to the lake directory
    temp: str  # temporary path, relative to the lake directory


class Ledger:
    """Thread-safe access to the ledger database at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_store(path, SCHEMA, synchronous_full=True)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(seen)")}
        if "digest" not in columns:  # a ledger from before body digests: keep its rows, compare new ones
            self._db.execute("ALTER TABLE seen ADD COLUMN digest TEXT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def seen(self, thing_name: str, seq: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM seen WHERE thing_name = ? AND seq = ?", (thing_name, seq)).fetchone()
        return row is not None

    def lookup(self, thing_name: str, seq: int) -> SeenKey | None:
        """Where (thing_name, seq) is stored and its body digest, or None when it is not in the lake."""
        with self._lock:
            row = self._db.execute("SELECT file, digest FROM seen WHERE thing_name = ? AND seq = ?",
                                   (thing_name, seq)).fetchone()
        return SeenKey(*row) if row is not None else None

    def commit_file(self, name: str, temp: str, entries: Iterable[tuple[str, int, str, str]]) -> None:
        """Record a complete temporary file and its (publisher, seq, received_at, digest) keys, atomically."""
        rows = [(thing, seq, received, name, digest) for thing, seq, received, digest in entries]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO files (name, temp, state, records) VALUES (?, ?, 'pending', ?)",
                                 (name, temp, len(rows)))
                self._db.executemany("INSERT INTO seen (thing_name, seq, received_at, file, digest) VALUES (?, ?, ?, ?, ?)",
                                    rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def mark_done(self, name: str) -> None:
        with self._lock:
            self._db.execute("UPDATE files SET state = 'done' WHERE name = ?", (name,))

    def pending(self) -> list[PendingFile]:
        with self._lock:
            rows = self._db.execute("SELECT name, temp FROM files WHERE state = 'pending' ORDER BY name").fetchall()
        return [PendingFile(name, temp) for name, temp in rows]

    def forget_file(self, name: str) -> int:
        """Drop a file row and its keys (its data is nowhere: the broker will redeliver it). Returns key count."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            count = self._db.execute("DELETE FROM seen WHERE file = ?", (name,)).rowcount
            self._db.execute("DELETE FROM files WHERE name = ?", (name,))
            self._db.execute("COMMIT")
        return count

    def arrivals(self) -> list[tuple[str, int, str]]:
        """Every (thing_name, seq, received_at) in the lake."""
        with self._lock:
            return self._db.execute("SELECT thing_name, seq, received_at FROM seen ORDER BY thing_name, seq").fetchall()

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM seen").fetchone()[0]
