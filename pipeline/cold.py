"""The lab's cold-readings rule (DynamoDB step), applied locally.

The rule is the very AWS IoT SQL text deployed on AWS (`pipeline/sql/rules/cold_readings.sql`), run by DuckDB
over each batch of messages (`pipeline.queries.load_rule(..., "duckdb")`); like the lake rule it takes only a
thing's own messages (`thing_name = clientid()`, locally the record's authenticated `publisher`). Like the DynamoDBv2 action, each
selected row becomes an item whose attributes are the selected columns, stored under the key
(weather_station, time): a second item with the same key replaces the first. The table is a SQLite file
(`COLD_DB`) so it can be read while the lake writer runs.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipeline.contract import DUCKDB_TYPES
from pipeline.queries import PUBLISHER_COLUMN, load_rule
from pipeline.sqlite_store import open_store

RULE_NAME = "cold_readings"
PARTITION_KEY = "weather_station"
SORT_KEY = "time"

SCHEMA = """
CREATE TABLE IF NOT EXISTS cold_readings (
  weather_station TEXT NOT NULL,
  time TEXT NOT NULL,
  item TEXT NOT NULL,
  PRIMARY KEY (weather_station, time)
) WITHOUT ROWID;
"""


def _json_default(value: Any) -> Any:
    """DuckDB result values JSON cannot hold: timestamps back to the ISO 8601 UTC text the station sent."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a cold-readings item")


def _plain(value: Any) -> Any:
    """One value as it reads back from JSON."""
    return json.loads(json.dumps(value, default=_json_default))


def evaluate_rule(messages: Sequence[dict | bytes], rule: str = RULE_NAME) -> list[dict]:
    """Run the rule's SQL over `messages` (decoded objects, or the JSON payloads themselves) and return the
    selected items (values as DuckDB returns them; `put_items` stores them as JSON)."""
    if not messages:
        return []
    with tempfile.TemporaryDirectory(prefix="cold-rule-") as folder:
        batch = Path(folder) / "batch.ndjson"
        with open(batch, "wb") as fh:
            for m in messages:
                fh.write(m if isinstance(m, bytes) else json.dumps(m, separators=(",", ":")).encode())
                fh.write(b"\n")
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            literal = "'" + str(batch).replace("'", "''") + "'"
            con.execute(f"CREATE TABLE messages AS SELECT * FROM read_json_auto({literal}, "
                        "format = 'newline_delimited', sample_size = -1)")
            # A field absent from every message of the batch (a sensor leaving it out) is a NULL column, not a
            # binder error that would cost the whole batch its cold readings.
            present = {row[0] for row in con.execute("DESCRIBE messages").fetchall()}
            for name, sql_type in DUCKDB_TYPES.items():
                if name not in present:
                    con.execute(f'ALTER TABLE messages ADD COLUMN "{name}" {sql_type}')
            # a batch without publishers (none authenticated) selects nothing, as clientid() <> thing_name on AWS
            con.execute(f"ALTER TABLE messages ADD COLUMN IF NOT EXISTS {PUBLISHER_COLUMN} VARCHAR")
            cursor = con.execute(load_rule(rule, "duckdb", source="messages"))
            columns = [d[0] for d in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
        finally:
            con.close()


class ColdTable:
    """The local cold-readings table keyed by (weather_station, time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_store(path, SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put_items(self, items: Iterable[dict]) -> int:
        """PutItem each one (replacing an item with the same key), in one transaction; returns the count."""
        rows = []
        for item in items:
            station, time = item.get(PARTITION_KEY), item.get(SORT_KEY)
            if station is None or time is None:
                raise ValueError(f"cold-readings item lacks its key ({PARTITION_KEY}, {SORT_KEY}): {item!r}")
            rows.append((str(_plain(station)), str(_plain(time)),
                         json.dumps(item, sort_keys=True, separators=(",", ":"), default=_json_default)))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO cold_readings (weather_station, time, item) VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        return len(rows)

    def apply(self, messages: Sequence[dict | bytes]) -> int:
        """Evaluate the rule over `messages` and store what it selects; returns the number of items written."""
        return self.put_items(evaluate_rule(messages))

    def items(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT item FROM cold_readings ORDER BY weather_station, time").fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM cold_readings").fetchone()[0]


def backfill_from_lake(table: ColdTable, lake_files: Iterable[Path], batch_size: int = 5000) -> int:
    """Apply the rule to every message already in the lake (e.g. after changing the rule); returns items written."""
    import gzip

    written = 0
    batch: list[bytes] = []
    for path in lake_files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    batch.append(line.rstrip(b"\r\n"))
                if len(batch) >= batch_size:
                    written += table.apply(batch)
                    batch = []
    if batch:
        written += table.apply(batch)
    return written
