"""The lake's type check of the message contract, and what it means for the lake and the cold-readings rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cold import ColdTable, evaluate_rule
from pipeline.contract import DUCKDB_TYPES, LISTS, MEASUREMENTS, NUMBERS, STRINGS, type_problem
from pipeline.lake import LakeWriter, Outcome
from tests.support.synthetic import message
from tests.pipeline.test_local_lake import keys, read_lake, side_records

SCHEMA = Path(__file__).resolve().parents[2] / "contracts" / "weather-message.schema.json"


def test_the_field_lists_are_the_contracts() -> None:
    schema = json.loads(SCHEMA.read_text())
    props = schema["properties"]
    assert set(MEASUREMENTS) == {n for n, p in props.items() if p.get("$ref") == "#/$defs/Measurement"}
    assert set(LISTS) == {n for n, p in props.items() if p.get("type") == "array"}
    assert set(STRINGS) == {n for n, p in props.items() if p.get("type") == "string"}
    assert set(NUMBERS) == {n for n, p in props.items() if p.get("anyOf") == [{"type": "number"}, {"type": "null"}]}
    assert set(DUCKDB_TYPES) == set(props)


@pytest.mark.parametrize("change,problem", [
    (lambda d: d["air_temperature"].update(value="12.3"), "air_temperature.value is str, not a number or null"),
    (lambda d: d["wind_speed"].update(value=True), "wind_speed.value is bool, not a number or null"),
    (lambda d: d["dew_point"].update(quality=1), "dew_point.quality is int, not a string or null"),
    (lambda d: d.update(sky_ceiling=5), "sky_ceiling is int, not an object with value and quality"),
    (lambda d: d.update(latitude="46"), "latitude is str, not a number or null"),
    (lambda d: d.update(sent_at=None), "sent_at is null, not a string"),
    (lambda d: d.update(weather_condition={}), "weather_condition is dict, not a list"),
])
def test_wrong_types_are_named(change, problem: str) -> None:
    doc = message("a", 1, 2.0)
    change(doc)
    assert type_problem(doc) == problem


def test_a_valid_message_and_one_with_a_field_left_out_pass() -> None:
    doc = message("a", 1, None)
    assert type_problem(doc) is None
    del doc["wind_speed"]
    assert type_problem(doc) is None


def test_wrong_type_and_nan_go_to_errors_and_a_left_out_field_is_stored(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path, buffer_seconds=3600)
    wrong = message("a", 1, 2.0)
    wrong["air_temperature"]["value"] = "2.0"
    nan = json.dumps(message("a", 2, 2.0)).replace('"value": 2.0', '"value": NaN', 1).encode()
    absent = message("a", 3, 2.0)
    del absent["wind_speed"]
    outcomes = [writer.add(json.dumps(wrong).encode(), publisher="a"), writer.add(nan, publisher="a"),
                writer.add(json.dumps(absent).encode(), publisher="a")]
    writer.close()
    assert outcomes == [Outcome.ERROR, Outcome.ERROR, Outcome.BUFFERED]
    assert keys(read_lake(tmp_path)) == {("a", 3): 1}
    assert sorted(r["error"] for r in side_records(tmp_path, "errors")) == [
        "not JSON: NaN is not a JSON value", "wrong type: air_temperature.value is str, not a number or null"]


def test_the_cold_rule_binds_when_a_field_is_absent_from_the_whole_batch(tmp_path: Path) -> None:
    """Regression: a batch (e.g. a late message flushed on its own) without wind_speed failed the rule (DuckDB
    binder error) and lost its cold readings."""
    doc = message("a", 1, -10.0)
    del doc["wind_speed"], doc["weather_condition"]
    items = evaluate_rule([json.dumps({**doc, "publisher": "a"}).encode()])  # stamped by the broker, as stored
    assert [(i["weather_station"], i["air_temperature_value"], i["wind_speed_value"]) for i in items] == [
        ("a-99999", -10.0, None)]
    table = ColdTable(tmp_path / "cold.sqlite3")
    writer = LakeWriter(tmp_path / "lake", buffer_seconds=3600, cold=table)
    writer.add(json.dumps(doc).encode(), publisher="a")
    writer.close()
    assert writer.cold_failures == 0 and table.count() == 1
