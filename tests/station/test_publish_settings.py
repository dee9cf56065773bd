"""Station configuration: defaults per target, one clear line per problem, files checked before connecting."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.settings import ConfigError, check_files, load_settings
from tests.support.standins import stand_in_identity

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
    ident = stand_in_identity(tmp_path / "id", "x")
    monkeypatch.setenv("THING_NAME", "ws-1")
    monkeypatch.setenv("IDENTITY_DIR", str(ident))
    monkeypatch.setenv("DATA_FILE", str(tmp_path / "nope.gz"))
    with pytest.raises(ConfigError) as info:
        check_files(load_settings())
    assert str(info.value) == f"data file not found: {tmp_path / 'nope.gz'} (DATA_FILE)"


def test_empty_variables_mean_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THING_NAME", "t")
    monkeypatch.setenv("DATA_FILE", "x")
    for name in ("SPEEDUP", "INTERVAL", "MAX_RATE", "START_AT", "TOPIC", "LOOP"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    assert (settings.effective_speedup, settings.topic, settings.loop, settings.start_at) == (
        3600, "sensor/weather", False, None)


def test_state_dir_must_be_a_writable_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ident = stand_in_identity(tmp_path / "id", "x")
    data = tmp_path / "data.txt"
    data.write_text("x\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("THING_NAME", "ws-1")
    monkeypatch.setenv("IDENTITY_DIR", str(ident))
    monkeypatch.setenv("DATA_FILE", str(data))
    monkeypatch.setenv("STATE_DIR", str(blocker / "state"))
    with pytest.raises(ConfigError) as info:
        check_files(load_settings())
    assert str(info.value).startswith(f"state folder cannot be created: {blocker / 'state'} (STATE_DIR)")
    monkeypatch.setenv("STATE_DIR", str(tmp_path / "state"))
    check_files(load_settings())
    assert (tmp_path / "state").is_dir()


# --- SPEEDUP / INTERVAL: the environment wins over .env for the pacing as a whole (issue 10, item 5) -----------------
@pytest.mark.parametrize(
    ("dotenv", "environment", "speedup", "interval"),
    [
        ("SPEEDUP=3600\n", {"INTERVAL": "1"}, None, 1.0),       # INTERVAL in the environment clears .env's SPEEDUP
        ("INTERVAL=2\n", {"SPEEDUP": "60"}, 60.0, None),        # and SPEEDUP there clears .env's INTERVAL
        ("SPEEDUP=3600\n", {"SPEEDUP": "10"}, 10.0, None),      # the usual rule for one variable
        ("SPEEDUP=3600\n", {}, 3600.0, None),                   # nothing in the environment: .env's pacing
        ("SPEEDUP=3600\n", {"INTERVAL": ""}, 3600.0, None),     # empty (compose passes it through): not set
    ],
)
def test_environment_pacing_wins_over_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, dotenv: str,
                                             environment: dict[str, str], speedup: float | None,
                                             interval: float | None) -> None:
    (tmp_path / ".env").write_text(f"THING_NAME=t\nDATA_FILE=x\n{dotenv}")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.speedup, settings.interval) == (speedup, interval)


def test_both_in_one_place_is_still_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("THING_NAME=t\nDATA_FILE=x\nSPEEDUP=3600\nINTERVAL=1\n")
    with pytest.raises(ConfigError, match="set SPEEDUP or INTERVAL, not both"):
        load_settings()
    monkeypatch.delenv("SPEEDUP", raising=False)
    (tmp_path / ".env").write_text("THING_NAME=t\nDATA_FILE=x\n")
    monkeypatch.setenv("SPEEDUP", "3600")
    monkeypatch.setenv("INTERVAL", "1")
    with pytest.raises(ConfigError, match="set SPEEDUP or INTERVAL, not both"):
        load_settings()


def test_station_run_uses_interval_from_the_environment_with_the_default_dotenv(tmp_path: Path) -> None:
    """`INTERVAL=1 station run` beside the repository's `.env.example` (SPEEDUP=3600) paces by INTERVAL: the start
    line says interval=1s (the run then stops at the connection, nothing listens on the port)."""
    import socket

    from tests.support.station import REPO_ROOT, StationProcess, station_environment

    dotenv = (REPO_ROOT / ".env.example").read_text()
    assert "\nSPEEDUP=3600" in dotenv
    (tmp_path / ".env").write_text(dotenv)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from tests.support.certs import TestCA

    ident = TestCA(tmp_path / "ca").issue_client("ws-interval", tmp_path / "id").directory
    data = tmp_path / "x.txt"
    data.write_text("")
    env = station_environment(INTERVAL="1", THING_NAME="ws-interval", MQTT_HOST="127.0.0.1", MQTT_PORT=str(port),
                              IDENTITY_DIR=str(ident), DATA_FILE=str(data), STATE_DIR=str(tmp_path / "state"),
                              CONNECT_TIMEOUT="1")
    station = StationProcess(env, cwd=tmp_path)
    station.wait(60)
    assert "not both" not in station.output, station.output
    assert 'pacing="interval=1s' in station.wait_line(r"\bstart\b")


def test_identity_files_that_are_not_pem_are_a_configuration_error(tmp_path: Path) -> None:
    """Found only when the TLS context is made: one `config` line naming the folder, the summary, exit 2."""
    from tests.support.station import StationProcess, station_environment

    ident = stand_in_identity(tmp_path / "id", "not a PEM file\n")
    data = tmp_path / "x.txt"
    data.write_text("")
    env = station_environment(THING_NAME="ws-pem", IDENTITY_DIR=str(ident), DATA_FILE=str(data),
                              STATE_DIR=str(tmp_path / "state"), MQTT_PORT="1", CONNECT_TIMEOUT="1")
    station = StationProcess(env)
    assert station.wait(60) == 2, station.output
    assert "Traceback" not in station.output
    errors = [line for line in station.lines if " ERROR " in line]
    assert len(errors) == 1 and f"the identity in {ident} cannot be loaded" in errors[0], station.output
    assert "reason=config-error" in station.lines[-1]
