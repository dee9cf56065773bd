"""What a test fleet inherits from the developer's environment, and which compose command it runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.compose_fleet import COMPOSE_V1, ComposeFleet, compose_command, inherited_environment


def test_station_settings_and_per_station_variables_do_not_leak_but_images_do() -> None:
    env = inherited_environment({"STATION_IMAGE": "weather-fleet/station:mine", "BASE_IMAGE": "base:1",
                                 "STATION_3_THING": "someone-else", "STATION_12_ISD": "x.gz", "SPEEDUP": "1",
                                 "PRELOAD": "true", "DECODE_AHEAD": "false", "STATIONS_MQTT_HOST": "elsewhere",
                                 "PATH": "/bin"})
    # STATION_IMAGE used to be dropped with the STATION_N_* variables, so tests built and ran `:latest`.
    assert env == {"STATION_IMAGE": "weather-fleet/station:mine", "BASE_IMAGE": "base:1", "PATH": "/bin"}


def test_compose_variable_chooses_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE", "docker-compose")
    assert compose_command() == ["docker-compose"]
    monkeypatch.setenv("COMPOSE", "docker compose")
    assert compose_command() == ["docker", "compose"]


def test_forced_command_reaches_the_makefile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE", "docker compose")
    fleet = ComposeFleet(tmp_path, tmp_path, compose=COMPOSE_V1, SPEEDUP="5")
    assert fleet.base[:1] == ["docker-compose"]
    assert fleet.env["COMPOSE"] == "docker-compose" and fleet.env["SPEEDUP"] == "5"
