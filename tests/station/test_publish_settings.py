"""Station configuration: defaults per target, one clear line per problem, files checked before connecting."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.settings import ConfigError, check_files, load_settings

VARS = ["THING_NAME", "TARGET", "MQTT_HOST", "MQTT_PORT", "IDENTITY_DIR", "DATA_FILE", "TOPIC", "SPEEDUP",
        "INTERVAL", "MAX_RATE", "LOOP", "START_AT", "TIME_MODE", "STATE_DIR", "LOG_FORMAT", "DRAIN_TIMEOUT",
        "PROGRESS_INTERVAL", "FLEET_DIR"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_local_and_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THING_NAME", "weather-station-1")
    monkeypatch.setenv("DATA_FILE", "x.gz")
    local = load_settings()
    assert (local.mqtt_port, local.topic, local.effective_max_rate, local.metrics_enabled) == (
        8883, "sensor/weather", 0.0, False)
    assert local.effective_speedup == 3600 and local.drain_timeout == 5.0
    assert local.identity_path == Path(".fleet/things/weather-station-1")
    monkeypatch.setenv("TARGET", "aws")
    aws = load_settings()
    assert (aws.effective_max_rate, aws.metrics_enabled) == (100.0, True)
    monkeypatch.setenv("MAX_RATE", "20")
    assert load_settings().effective_max_rate == 20


def test_aws_ca_falls_back_to_certifi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import certifi

    monkeypatch.setenv("THING_NAME", "t")
    monkeypatch.setenv("DATA_FILE", "x")
    monkeypatch.setenv("IDENTITY_DIR", str(tmp_path))
    monkeypatch.setenv("TARGET", "aws")
    assert load_settings().ca_path == Path(certifi.where())
    (tmp_path / "ca.pem").write_text("x")
    assert load_settings().ca_path == tmp_path / "ca.pem"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SPEEDUP", "fast", "invalid SPEEDUP='fast'"),
        ("SPEEDUP", "-3", "invalid SPEEDUP='-3'"),
        ("TIME_MODE", "live", "invalid TIME_MODE='live'"),
        ("MQTT_PORT", "99999", "invalid MQTT_PORT='99999'"),
        ("START_AT", "yesterday", "invalid START_AT='yesterday'"),
        ("INTERVAL", "1", "set SPEEDUP or INTERVAL, not both"),
    ],
)
def test_invalid_value_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                         expected: str) -> None:
    monkeypatch.setenv("THING_NAME", "t")
    monkeypatch.setenv("DATA_FILE", "x")
    if name == "INTERVAL":
        monkeypatch.setenv("SPEEDUP", "10")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert expected in message and "\n" not in message


def test_missing_variables_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).splitlines() == [
        "THING_NAME is not set (see .env.example)", "DATA_FILE is not set (see .env.example)"]


def test_missing_certificate_names_path_and_make_register(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("THING_NAME", "ws-1")
    data = tmp_path / "data.txt"
    data.write_text("line\n")
    monkeypatch.setenv("DATA_FILE", str(data))
    monkeypatch.setenv("IDENTITY_DIR", str(tmp_path / "things" / "ws-1"))
    with pytest.raises(ConfigError) as info:
        check_files(load_settings())
    first = str(info.value).splitlines()[0]
    assert str(tmp_path / "things" / "ws-1" / "certificate.pem") in first and "make register" in first


def test_missing_data_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ident = tmp_path / "id"
    ident.mkdir()
    for name in ("certificate.pem", "private.key", "ca.pem"):
        (ident / name).write_text("x")
    monkeypatch.setenv("THING_NAME", "ws-1")
    monkeypatch.setenv("IDENTITY_DIR", str(ident))
    monkeypatch.setenv("DATA_FILE", str(tmp_path / "nope.gz"))
    with pytest.raises(ConfigError) as info:
        check_files(load_settings())
    assert str(info.value) == f"data file not found: {tmp_path / 'nope.gz'} (DATA_FILE)"
