"""Opening the pipeline's SQLite files (ledger, cold-readings table) the one way they are shared across threads."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_store(path: Path, schema: str, *, synchronous_full: bool = False) -> sqlite3.Connection:
    """A WAL-mode connection usable from several threads (callers hold their own lock), `schema` applied.

    Autocommit (`isolation_level=None`): callers group writes with explicit BEGIN/COMMIT. `synchronous_full`
    makes every commit durable on power loss (the ledger needs it; the cold table can be rebuilt).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    if synchronous_full:
        db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema)
    return db
