"""The station's variable list (fleetcore.station_variables) is the one source of compose's station environment:
the station's settings, compose.yaml's `x-station-env`, the generated override and the fleet test helper agree."""

from __future__ import annotations

from pathlib import Path

import yaml

from fleetcore import station_variables
from deploy.compose_stations import station_service
from station.settings import StationSettings
from tests.support.compose_fleet import STATION_KNOBS

REPO = Path(__file__).resolve().parents[2]


def _yaml_environment(env: dict[str, object]) -> dict[str, str | None]:
    """compose's `KEY:` (no value: passed through) is None in YAML; every other value as compose reads it."""
    return {k: None if v is None else str(v) for k, v in env.items()}


def test_station_settings_read_exactly_the_listed_variables() -> None:
    settings_variables = {name.upper() for name in StationSettings.model_fields}
    assert settings_variables == station_variables.all_variables()
    parts = [set(station_variables.FIXED), set(station_variables.PER_STATION), set(station_variables.PASSED_THROUGH)]
    assert sum(len(p) for p in parts) == len(set().union(*parts))  # each variable in exactly one part


def test_compose_yaml_station_env_is_compose_environment() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert _yaml_environment(compose["x-station-env"]) == station_variables.compose_environment()
    for i in range(1, 6):
        env = _yaml_environment(compose["services"][f"station-{i}"]["environment"])
        assert set(env) == station_variables.all_variables()
        assert {k: env[k] for k in station_variables.compose_environment()} == station_variables.compose_environment()


def test_generated_override_has_the_same_environment() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    env = station_service(6, "w-6", "030910-99999-2022.gz", 7)["environment"]
    assert set(env) == station_variables.all_variables()
    # The shared part is compose.yaml's own (checked above against compose_environment()), the rest is per station.
    assert {k: v for k, v in env.items() if k not in station_variables.PER_STATION} == \
        _yaml_environment(compose["x-station-env"])
    assert {k: env[k] for k in station_variables.PER_STATION} == \
        {"THING_NAME": "w-6", "DATA_FILE": "/data/030910-99999-2022.gz", "START_OFFSET": "7"}
    # PRELOAD and DECODE_AHEAD were documented but never reached a container.
    assert {"PRELOAD", "DECODE_AHEAD"} <= set(env)


def test_fleet_test_helper_isolates_every_passed_through_variable() -> None:
    assert set(station_variables.PASSED_THROUGH) <= set(STATION_KNOBS)


def test_layered_environment_treats_speedup_and_interval_as_one_setting() -> None:
    from fleetcore.station_variables import layered

    dotenv = {"SPEEDUP": "3600", "TOPIC": "sensor/weather", "LOOP": "true"}
    assert layered(dotenv, {"INTERVAL": "0.25", "LOOP": "false"}) == \
        {"TOPIC": "sensor/weather", "LOOP": "false", "INTERVAL": "0.25"}  # .env's SPEEDUP dropped
    assert layered({"INTERVAL": "1"}, {"SPEEDUP": "60"}) == {"SPEEDUP": "60"}
    assert layered(dotenv, {"SPEEDUP": ""}) == {"TOPIC": "sensor/weather", "LOOP": "true", "SPEEDUP": ""}
    assert layered(dotenv, {"TOPIC": "a/b"}) == {**dotenv, "TOPIC": "a/b"}  # pacing untouched: .env's stays
