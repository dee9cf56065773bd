"""One source of SQL: every lab query loads in both dialects, and the DuckDB translation means the same thing."""

from __future__ import annotations

import gzip
import json
import statistics
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import sqlglot

from pipeline import queries
from pipeline.errors import ConfigError
from pipeline.errors import ConfigError
from tests.support.synthetic import message

MESSAGES = [
    message("a", 0, -10.0, conditions=("Snow, slight", "Mist"), clouds=("Stratus",)),
    message("a", 1, -4.0, clouds=("Stratus", "Cirrus")),
    message("a", 2, None, conditions=("Mist",)),
    message("b", 0, 3.5, conditions=("Mist",), clouds=("Cumulus",)),
    message("b", 1, -5.0),
    message("b", 2, -5.5, conditions=("Snow, slight",), clouds=("Stratus",)),
]


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake view `weather_lake.weather` over one gzip NDJSON file."""
    path = tmp_path / "part.gz"
    with gzip.open(path, "wt") as fh:
        fh.writelines(json.dumps(m) + "\n" for m in MESSAGES)
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA weather_lake")
    connection.execute(
        f"CREATE VIEW weather_lake.weather AS SELECT * FROM read_json_auto('{path}', format='newline_delimited')"
    )
    yield connection
    connection.close()


@pytest.mark.parametrize("name", queries.QUERY_NAMES + queries.DASHBOARD_QUERY_NAMES)
def test_every_query_is_valid_athena_sql_and_translates(name: str) -> None:
    athena = queries.load_query(name, "athena")
    assert "${" not in athena
    sqlglot.parse_one(athena, read="athena")  # raises on a syntax error
    duck = queries.load_query(name, "duckdb")
    for athena_only in ("from_iso8601_timestamp", "approx_percentile", "IF NOT EXISTS"):
        assert athena_only.lower() not in duck.lower()


def test_athena_text_is_the_file_verbatim_with_names() -> None:
    text = queries.load_query("preview", "athena", database="db1", table="t1")
    assert 'FROM "db1"."t1"' in text and "LIMIT 10" in text


def test_lab_queries_run_in_duckdb_and_agree_with_python(con: duckdb.DuckDBPyConnection) -> None:
    assert len(con.execute(queries.load_query("preview", "duckdb")).fetchall()) == len(MESSAGES)

    rows = con.execute(queries.load_query("temperature_by_station", "duckdb")).fetchall()
    for station, readings, avg, low, high in rows:
        temps = [m["air_temperature"]["value"] for m in MESSAGES
                 if m["weather_station"] == station and m["air_temperature"]["value"] is not None]
        assert (readings, low, high) == (len(temps), min(temps), max(temps))
        assert avg == pytest.approx(statistics.fmean(temps))
    assert [r[0] for r in rows] == ["a-99999", "b-99999"]

    by_condition = {r[0]: r[1:] for r in con.execute(queries.load_query("temperature_by_condition", "duckdb")).fetchall()}
    assert by_condition["Mist"][0] == 2          # -10.0 (a/0) and 3.5 (b/0); a/2 has no temperature
    assert by_condition["Mist"][2:] == (-10.0, 3.5)
    assert by_condition["Snow, slight"][1] == pytest.approx((-10.0 - 5.5) / 2)


def test_flatten_is_cross_join_unnest_and_rebuilds(con: duckdb.DuckDBPyConnection) -> None:
    sql = queries.load_query("flatten", "duckdb")
    assert sql.startswith('CREATE OR REPLACE TABLE "weather_lake"."weather_flat"')
    con.execute(sql)
    con.execute(sql)  # the local warehouse is rebuilt, never stale
    flat = con.execute("SELECT weather_station, cloud_type, present_weather_condition FROM weather_lake.weather_flat").fetchall()
    expected = [(m["weather_station"], s["cloud_type"], w["present_weather_condition"])
                for m in MESSAGES for s in m["sky_cover_condition"] for w in m["weather_condition"]]
    assert sorted(flat) == sorted(expected)
    columns = [r[0] for r in con.execute("DESCRIBE weather_lake.weather_flat").fetchall()]
    assert columns == ["weather_station", "latitude", "longitude", "elevation", "time", "air_temperature",
                       "dew_point", "wind_speed", "sea_level_pressure", "sky_ceiling", "visibility_distance",
                       "cloud_type", "present_weather_condition"]


def test_timestamp_translation_parses_iso8601_strings() -> None:
    sql = queries.translate("SELECT from_iso8601_timestamp('2022-01-01T00:15:00+01:00') AS t", "athena", "duckdb")
    (value,) = duckdb.connect().execute(sql).fetchone()
    assert isinstance(value, datetime)
    assert value.timestamp() == datetime.fromisoformat("2022-01-01T00:15:00+01:00").timestamp()


def test_percentile_translation_runs() -> None:
    sql = queries.translate("SELECT approx_percentile(x, 0.5) FROM (VALUES (1), (2), (3)) AS v(x)")
    assert "approx_quantile" in sql.lower()
    assert duckdb.connect().execute(sql).fetchone()[0] == 2


def test_duckdb_back_to_athena_is_a_plain_ctas() -> None:
    """Athena's CTAS has neither IF NOT EXISTS nor OR REPLACE
    (https://docs.aws.amazon.com/athena/latest/ug/create-table-as.html): drop_flat runs first instead."""
    duck = queries.load_query("flatten", "duckdb")
    athena = queries.translate(duck, "duckdb", "athena")
    assert athena.startswith("CREATE TABLE ") and "CROSS JOIN UNNEST" in athena
    assert "IF NOT EXISTS" not in athena and "OR REPLACE" not in athena


def test_athena_ctas_has_documented_syntax_and_is_dropped_first() -> None:
    athena = queries.load_query("flatten", "athena", database="db1", flat_table="flat1")
    statement = [ln for ln in athena.splitlines() if not ln.startswith("--")][0]
    assert statement == 'CREATE TABLE "db1"."flat1" AS'
    assert queries.QUERY_NAMES.index("drop_flat") == queries.QUERY_NAMES.index("flatten") - 1
    drop = queries.load_query("drop_flat", "athena", database="db1", flat_table="flat1")
    assert drop.strip().splitlines()[-1] == "DROP TABLE IF EXISTS db1.flat1"  # Hive DDL: no double quotes


def test_rule_is_iot_sql_without_comments() -> None:
    rule = queries.load_rule("cold_readings", "iot")
    assert "--" not in rule and "\n" not in rule
    assert rule.startswith("SELECT weather_station, latitude, longitude, elevation, time, ")
    assert "air_temperature.value AS air_temperature_value" in rule
    assert "air_temperature.quality AS air_temperature_quality" in rule
    assert "wind_speed.value AS wind_speed_value" in rule
    assert rule.endswith("FROM 'sensor/weather' WHERE thing_name = clientid() AND air_temperature.value < -5")
    assert queries.rule_topic("cold_readings") == "sensor/weather"
    assert "FROM 'fleet/+/weather'" in queries.load_rule("cold_readings", "iot", topic="fleet/+/weather")


def test_rule_in_duckdb_keeps_exactly_the_cold_readings(tmp_path: Path) -> None:
    path = tmp_path / "batch.ndjson"
    # as the lake stores them: each record with its authenticated publisher; the forged one (b names a) is cold
    # but not a's own message, so the rule leaves it out exactly as `thing_name = clientid()` does on AWS
    forged = {**message("a", 9, -20.0), "publisher": "b"}
    path.write_text("".join(json.dumps({**m, "publisher": m["thing_name"]}) + "\n" for m in MESSAGES)
                    + json.dumps(forged) + "\n")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW messages AS SELECT * FROM read_json_auto('{path}', format='newline_delimited')")
    cursor = con.execute(queries.load_rule("cold_readings", "duckdb"))
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    assert columns == ["weather_station", "latitude", "longitude", "elevation", "time", "air_temperature_value",
                       "air_temperature_quality", "wind_speed_value", "weather_condition", "sky_cover_condition"]
    expected = sorted((m["weather_station"], m["air_temperature"]["value"]) for m in MESSAGES
                      if m["air_temperature"]["value"] is not None and m["air_temperature"]["value"] < -5)
    assert sorted((r[0], r[5]) for r in rows) == expected == [("a-99999", -10.0), ("b-99999", -5.5)]


@pytest.mark.parametrize("bad", ['x"; DROP TABLE y; --', "1abc", "a.b", ""])
def test_names_must_be_identifiers(bad: str) -> None:
    with pytest.raises(ConfigError, match="not a valid SQL identifier"):
        queries.load_query("preview", "athena", table=bad)


def test_unknown_names_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown query 'nope'"):
        queries.load_query("nope", "athena")
    with pytest.raises(ConfigError, match="unknown rule 'nope'"):
        queries.load_rule("nope", "iot")
    with pytest.raises(ConfigError, match="unknown query dialect"):
        queries.load_query("preview", "mysql")  # type: ignore[arg-type]


@pytest.mark.parametrize("topic", ["sensor/météo", "sensor/my weather"])
def test_a_topic_the_rules_cannot_take_names_topic_and_the_fix(topic: str) -> None:
    """A valid MQTT topic (fleetcore.topic) that the rules' SQL does not take: refused, saying TOPIC and why."""
    from fleetcore.topic import validate_topic

    assert validate_topic(topic) == topic
    with pytest.raises(ConfigError, match=r"TOPIC='.*' cannot be written into an AWS IoT rule.*set TOPIC to"):
        queries.load_rule("cold_readings", "iot", topic=topic)
