"""Settings and the `pipeline` command: defaults, overrides, and errors that say what to fix."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline import queries
from pipeline.cli import main
from pipeline.lake import LakeWriter
from pipeline.settings import MIB, PipelineSettings
from tests.support.synthetic import message

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("MQTT_HOST", "MQTT_PORT", "TOPIC", "MONITOR_IDENTITY_DIR", "LAKE_DIR", "LAKE_PREFIX",
                 "LAKE_BUFFER_BYTES", "LAKE_BUFFER_SECONDS", "COLD_DB", "WAREHOUSE_DB", "DASHBOARD_PATH",
                 "LAKE_DATABASE", "LAKE_TABLE", "LAKE_FLAT_TABLE", "COLD_RULE_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here


def test_defaults_follow_the_issue() -> None:
    s = PipelineSettings()
    assert (s.lake_dir, s.lake_buffer_bytes, s.lake_buffer_seconds) == (Path("lake"), 5 * MIB, 60.0)
    assert s.monitor_identity_dir == Path(".fleet/things/monitor")
    assert s.lake_root == Path("lake/sensor/weather")
    assert (s.mqtt_host, s.mqtt_port, s.topic) == ("localhost", 8883, "sensor/weather")
    assert s.cold_db_path == Path("lake/cold_readings.sqlite3")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKE_DIR", "/data/lake")
    monkeypatch.setenv("LAKE_BUFFER_BYTES", "1024")
    monkeypatch.setenv("LAKE_BUFFER_SECONDS", "2.5")
    monkeypatch.setenv("MQTT_HOST", "broker")
    s = PipelineSettings()
    assert (s.lake_dir, s.lake_buffer_bytes, s.lake_buffer_seconds, s.mqtt_host) == (
        Path("/data/lake"), 1024, 2.5, "broker")


@pytest.mark.parametrize(("name", "value"), [("LAKE_BUFFER_BYTES", "0"), ("LAKE_BUFFER_SECONDS", "-1"),
                                             ("MQTT_PORT", "70000"), ("LAKE_PREFIX", "../x")])
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        PipelineSettings()
    assert main(["sql", "preview"]) == 2
    err = capsys.readouterr().err
    assert f"invalid {name}={value!r}" in err and len(err.splitlines()) == 1


def test_lake_without_identity_says_make_register(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lake"]) == 2
    err = capsys.readouterr().err
    assert "monitor identity incomplete" in err and "make register" in err and "MONITOR_IDENTITY_DIR" in err


def test_query_on_an_empty_lake_says_what_to_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query"]) == 1  # not a configuration error: the lake writer has not written yet
    err = capsys.readouterr().err
    assert "no lake file under lake/sensor/weather" in err and "make lake" in err


def test_sql_prints_each_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "flatten"]) == 0
    assert capsys.readouterr().out == queries.load_query("flatten", "athena")
    assert main(["sql", "flatten", "--dialect", "duckdb"]) == 0
    assert capsys.readouterr().out == queries.load_query("flatten", "duckdb")
    assert main(["cold", "--rule", "iot"]) == 0
    assert capsys.readouterr().out.strip() == queries.load_rule("cold_readings", "iot")
    assert main(["sql", "nope"]) == 2
    assert "unknown query 'nope'" in capsys.readouterr().err


def test_query_cold_and_dashboard_on_a_small_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    writer = LakeWriter(tmp_path / "lake")
    for seq, t in enumerate([-9.0, 2.0, -6.5]):
        writer.add(json.dumps(message("a", seq, t, conditions=("Mist",), clouds=("Stratus",))).encode(),
                   publisher="a")
    writer.close()
    assert main(["query"]) == 0
    out = capsys.readouterr().out
    for name in queries.QUERY_NAMES:
        assert f"-- {name}:" in out
    assert re.search(r"^a-99999\s+3\s+-4\.50\s+-9\.00\s+2\.00\s*$", out, re.M), out  # avg of -9, 2, -6.5
    assert main(["query", "SELECT count(*) AS n FROM weather_lake.weather_flat"]) == 0
    assert capsys.readouterr().out.split()[-1] == "3"
    assert main(["query", "--schema"]) == 0
    schema = capsys.readouterr().out
    assert re.search(r"^air_temperature\s+STRUCT\(", schema, re.M) and re.search(r"^seq\s+BIGINT", schema, re.M)
    assert re.search(r"^publisher\s+VARCHAR", schema, re.M), schema  # the authenticated identity is a column
    assert main(["cold", "--backfill"]) == 0
    assert "2 cold reading(s)" in capsys.readouterr().out
    assert main(["dashboard"]) == 0
    assert (tmp_path / "lake" / "dashboard.html").is_file()


def test_python_dash_m_pipeline_runs() -> None:
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sql", "--list"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "temperature_by_station" in proc.stdout
