"""One source of SQL for Athena and DuckDB: the lab's queries and rule, loaded by name and translated.

The `.sql` files under `pipeline/sql/` are written once, in Athena's (Trino/Presto) dialect for queries and in
AWS IoT SQL for topic rules. `load_query(name, "athena")` returns a file with its names filled in, verbatim;
`load_query(name, "duckdb")` translates it with sqlglot (e.g. `from_iso8601_timestamp(x)` becomes
`CAST(x AS TIMESTAMPTZ)`, `approx_percentile` becomes `approx_quantile`) and makes the flattening
`CREATE TABLE ... AS` a `CREATE OR REPLACE TABLE ... AS`, because the local warehouse is rebuilt from the lake on
every run. Athena's CTAS syntax has no `IF NOT EXISTS` (nor `OR REPLACE`), so on AWS `drop_flat` runs first:
`DROP TABLE IF EXISTS`, then `flatten` (https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html). `load_rule(name, "iot")` gives the rule text
for `iot:CreateTopicRule`; `load_rule(name, "duckdb", source=...)` the same statement over a DuckDB relation
holding the messages, which is how the cold-readings rule runs locally.

Names are filled in with `${name}` placeholders (`string.Template`); each value must be a plain identifier
(letters, digits, underscores) so nothing can be injected, except `topic` which is an MQTT topic filter.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template
from typing import Literal

import sqlglot
from sqlglot import exp

from pipeline.errors import ConfigError

SQL_PACKAGE = "pipeline.sql"

#: The lab's Athena queries, in the lab's order: these become Athena named queries on AWS.
QUERY_NAMES: tuple[str, ...] = ("preview", "temperature_by_station", "temperature_by_condition", "drop_flat",
                                 "flatten")
#: Queries the local dashboard runs (same dialect, same loader; not part of the lab).
DASHBOARD_QUERY_NAMES: tuple[str, ...] = (
    "temperature_series", "stations", "condition_counts", "cloud_counts", "delivery", "message_rate",
)
#: Topic rules written in AWS IoT SQL.
RULE_NAMES: tuple[str, ...] = ("cold_readings",)

#: Default values for the placeholders; keyword arguments of the loaders override them.
DEFAULT_NAMES: dict[str, str] = {
    "database": "weather_lake",
    "table": "weather",
    "flat_table": "weather_flat",
    "arrivals_table": "lake_arrivals",
    "topic": "sensor/weather",
    "source": "messages",
}

PUBLISHER_COLUMN = "publisher"
"""The column DuckDB reads for IoT SQL's `clientid()`: the lake's authenticated publisher of each record."""

QueryDialect = Literal["athena", "duckdb"]
RuleDialect = Literal["iot", "duckdb"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOPIC = re.compile(r"[A-Za-z0-9_/+#.\-]+")
_RULE_FROM = re.compile(r"\bFROM\s+'(?P<topic>[^']*)'", re.IGNORECASE)


@cache
def _read(relative: str) -> str:
    try:
        return resources.files(SQL_PACKAGE).joinpath(relative).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyError(f"no SQL file {relative!r} in {SQL_PACKAGE}") from None


def _fill(text: str, names: dict[str, str], where: str) -> str:
    values = {**DEFAULT_NAMES, **names}
    for key, value in values.items():
        pattern = _TOPIC if key == "topic" else _IDENTIFIER
        if not isinstance(value, str) or not pattern.fullmatch(value):
            if key == "topic":
                raise ConfigError(f"{where}: TOPIC={value!r} cannot be written into an AWS IoT rule here: the rules "
                                  f"take topics of ASCII letters, digits and _ / . - (+ # in filters) only; set "
                                  f"TOPIC to such a name (the stations and the broker accept it as it is)")
            raise ConfigError(f"{where}: {key}={value!r} is not a valid SQL identifier")
    try:
        return Template(text).substitute(values)
    except KeyError as missing:
        raise KeyError(f"{where} needs a value for {missing.args[0]!r}") from None


def _strip_comments(text: str) -> str:
    """Drop whole-line `--` comments (AWS IoT SQL has no comments at all)."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip()


def query_file(name: str) -> str:
    """Path inside `pipeline/sql/` of the query `name` (lab queries first, then dashboard queries)."""
    if name in QUERY_NAMES:
        return f"{name}.sql"
    if name in DASHBOARD_QUERY_NAMES:
        return f"dashboard/{name}.sql"
    raise ConfigError(f"unknown query {name!r}; known: {', '.join(QUERY_NAMES + DASHBOARD_QUERY_NAMES)}")


def query_description(name: str) -> str:
    """The leading comment of a query file, as one line (used as the Athena named-query description)."""
    comment = []
    for line in _read(query_file(name)).splitlines():
        if not line.startswith("--"):
            break
        comment.append(line.removeprefix("--").strip())
    return " ".join(comment)


def translate(sql: str, source: QueryDialect = "athena", target: QueryDialect = "duckdb") -> str:
    """Translate one statement between the Athena and DuckDB dialects (sqlglot), with the CTAS rule above."""
    if source == target:
        return sql
    tree = sqlglot.parse_one(sql, read=source)
    if isinstance(tree, exp.Create) and tree.expression is not None:  # CREATE TABLE ... AS SELECT
        if target == "duckdb":
            tree.set("exists", False)
            tree.set("replace", True)
        elif target == "athena":  # neither OR REPLACE nor IF NOT EXISTS in Athena's CTAS: drop_flat goes first
            tree.set("replace", False)
            tree.set("exists", False)
    return tree.sql(dialect=target, pretty=True)


def load_query(name: str, dialect: QueryDialect = "athena", **names: str) -> str:
    """The query `name` (see QUERY_NAMES / DASHBOARD_QUERY_NAMES) in `dialect`, placeholders filled in."""
    text = _fill(_read(query_file(name)), names, f"query {name!r}")
    if dialect == "athena":
        return text.strip() + "\n"
    if dialect == "duckdb":
        return translate(_strip_comments(text), "athena", "duckdb") + "\n"
    raise ConfigError(f"unknown query dialect {dialect!r}: use 'athena' or 'duckdb'")


def load_rule(name: str, dialect: RuleDialect = "iot", **names: str) -> str:
    """The topic rule `name` (see RULE_NAMES): AWS IoT SQL, or DuckDB SQL over the relation `source`.

    For DuckDB the `FROM '<topic>'` clause becomes `FROM "<source>"` and `clientid()` (the MQTT client id, which
    the IoT policy binds to the certificate's thing) becomes the column `publisher` (the authenticated identity the
    lake stores with each record); everything else (nested `a.b` access, `AS` renames, the WHERE clause, NULL
    comparisons being false) means the same in both.
    """
    if name not in RULE_NAMES:
        raise ConfigError(f"unknown rule {name!r}; known: {', '.join(RULE_NAMES)}")
    text = _strip_comments(_fill(_read(f"rules/{name}.sql"), names, f"rule {name!r}"))
    text = " ".join(text.split())
    if dialect == "iot":
        return text
    if dialect == "duckdb":
        source = {**DEFAULT_NAMES, **names}["source"]
        translated, count = _RULE_FROM.subn(f'FROM "{source}"', text)
        if count != 1:
            raise ValueError(f"rule {name!r} must have exactly one FROM '<topic>' clause, found {count}")
        return translated.replace("clientid()", PUBLISHER_COLUMN)
    raise ConfigError(f"unknown rule dialect {dialect!r}: use 'iot' or 'duckdb'")


def rule_topic(name: str, **names: str) -> str:
    """The topic filter the rule `name` reads from."""
    match = _RULE_FROM.search(load_rule(name, "iot", **names))
    assert match is not None  # load_rule("duckdb") enforces exactly one
    return match.group("topic")
