"""The lake writer's durable memory (SQLite): which (thing_name, seq) are in the lake, in which file, and when
each arrived; and which files are committed but perhaps not yet renamed into place.

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
class PendingFile:
    name: str  # final path, relative to the lake directory
    temp: str  # temporary path, relative to the lake directory


class Ledger:
    """Thread-safe access to the ledger database at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_store(path, SCHEMA, synchronous_full=True)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def seen(self, thing_name: str, seq: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM seen WHERE thing_name = ? AND seq = ?", (thing_name, seq)).fetchone()
        return row is not None

    def commit_file(self, name: str, temp: str, entries: Iterable[tuple[str, int, str]]) -> None:
        """Record a complete temporary file and its (thing_name, seq, received_at) keys, atomically."""
        rows = [(thing, seq, received, name) for thing, seq, received in entries]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO files (name, temp, state, records) VALUES (?, ?, 'pending', ?)",
                                 (name, temp, len(rows)))
                self._db.executemany("INSERT INTO seen (thing_name, seq, received_at, file) VALUES (?, ?, ?, ?)", rows)
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
