"""DuckDB over the lake: what the Glue crawler and Athena do for the lab.

`open_warehouse()` opens the DuckDB file `WAREHOUSE_DB` and (re)declares, in the schema `LAKE_DATABASE`:
- the view `LAKE_TABLE` over every gzip NDJSON file of the lake, its schema discovered from the files by
  `read_json_auto` (every row sampled, columns united by name: a field that appears later is not missed);
- the table `lake_arrivals` (thing_name, seq, received_at) copied from the lake writer's ledger, for latency.
The lab's queries then run unchanged apart from the dialect translation of `pipeline.queries`.
"""

from __future__ import annotations

import csv
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import PipelineError
from pipeline.lake import lake_files
from pipeline.queries import DEFAULT_NAMES, QUERY_NAMES, load_query
from pipeline.settings import PipelineSettings

ARRIVALS_TABLE = DEFAULT_NAMES["arrivals_table"]


class LakeEmptyError(PipelineError):
    """No lake file to query yet."""


class WarehouseError(PipelineError):
    """DuckDB refused: the warehouse file is locked or unreadable, or a query failed."""


@dataclass
class Result:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def ledger_rows(ledger: Path) -> list[tuple[str, int, str]]:
    if not ledger.is_file():
        return []
    con = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        return con.execute("SELECT thing_name, seq, received_at FROM seen").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def open_warehouse(settings: PipelineSettings, *, database: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake view and the arrivals table declared (see the module docstring)."""
    files = lake_files(settings.lake_root)
    if not files:
        raise LakeEmptyError(
            f"no lake file under {settings.lake_root} (LAKE_DIR={settings.lake_dir}): run `make lake` while the "
            "fleet publishes (`make up`), and wait LAKE_BUFFER_SECONDS for the first flush")
    target = settings.warehouse_path if database is None else database
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        target = str(target)
    try:
        con = duckdb.connect(target)
    except duckdb.Error as exc:
        raise WarehouseError(f"DuckDB: {exc} (warehouse WAREHOUSE_DB={target}; is another `pipeline query` or "
                             "`make dashboard` running?)") from None
    schema, table = _quote(settings.lake_database), _quote(settings.lake_table)
    pattern = str(settings.lake_root.resolve() / "*" / "*" / "*" / "*" / "*.gz")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    con.execute(
        f"CREATE OR REPLACE VIEW {schema}.{table} AS SELECT * FROM read_json_auto("
        f"'{pattern.replace(chr(39), chr(39) * 2)}', format = 'newline_delimited', union_by_name = true, "
        "sample_size = -1, maximum_sample_files = 1000000)"
    )
    arrivals = f"{schema}.{_quote(ARRIVALS_TABLE)}"
    con.execute(f"CREATE OR REPLACE TABLE {arrivals} (thing_name VARCHAR, seq BIGINT, received_at VARCHAR)")
    rows = ledger_rows(settings.state_dir / "ledger.sqlite3")
    if rows:
        with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False) as fh:
            csv.writer(fh).writerows(rows)
        try:
            con.execute(f"INSERT INTO {arrivals} SELECT * FROM read_csv(?, header = false, "
                        "columns = {'thing_name': 'VARCHAR', 'seq': 'BIGINT', 'received_at': 'VARCHAR'})", [fh.name])
        finally:
            Path(fh.name).unlink()
    return con


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, name: str = "query") -> Result:
    """Run `sql`; a statement DuckDB refuses is a WarehouseError with DuckDB's message."""
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"DuckDB: {exc}") from None
    if cursor.description is None:
        return Result(name, [], [])
    return Result(name, [d[0] for d in cursor.description], cursor.fetchall())


def run_named(con: duckdb.DuckDBPyConnection, settings: PipelineSettings, name: str) -> Result:
    """Run one of the shipped queries (translated to DuckDB) and return its rows."""
    return run_sql(con, load_query(name, "duckdb", **settings.query_names()), name)


def run_lab(con: duckdb.DuckDBPyConnection, settings: PipelineSettings,
            names: Sequence[str] = QUERY_NAMES) -> list[Result]:
    """The lab's queries in order; after `flatten`, a look at the flattened table like the lab asks."""
    results = []
    for name in names:
        results.append(run_named(con, settings, name))
        if name == "flatten":
            flat = f"{_quote(settings.lake_database)}.{_quote(settings.lake_flat_table)}"
            results.append(run_sql(con, f"SELECT * FROM {flat} LIMIT 10", f"{settings.lake_flat_table} (first rows)"))
    return results


def format_result(result: Result, max_width: int = 40) -> str:
    """A plain-text table."""
    if not result.columns:
        return f"-- {result.name}: done\n"

    def cell(value: Any) -> str:
        text = "NULL" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(result.columns)]
    lines = [f"-- {result.name}: {len(result.rows)} row(s)",
             "  ".join(c.ljust(w) for c, w in zip(result.columns, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines) + "\n"
