"""Group settings: connect rate limits, the variable list compose files are generated from."""

from __future__ import annotations

from pathlib import Path

from fleetcore import station_variables
from station.group.settings import GroupSettings
from station.settings import StationSettings


def make(**values: object) -> GroupSettings:
    return GroupSettings(_env_file=None, shard_file=Path("/shard/shard.json"), **values)  # type: ignore[call-arg]


def test_connect_rate_defaults_and_aws_account_limit() -> None:
    assert make().effective_connect_rate == 100.0
    assert make(connect_rate=2000).effective_connect_rate == 2000.0  # local: as asked
    # AWS IoT Core allows 500 connects/s per account, shared by every group container of the fleet.
    assert make(target="aws", connect_rate=2000).effective_connect_rate == 500.0
    assert make(target="aws", connect_rate=2000, fleet_groups=10).effective_connect_rate == 50.0
    assert make(target="aws", fleet_groups=10).effective_connect_rate == 50.0


def test_every_setting_is_a_listed_variable() -> None:
    single = {n.upper() for n in StationSettings.model_fields}
    group = {name.upper() for name in GroupSettings.model_fields} - single
    assert single == station_variables.all_variables()
    assert group == station_variables.group_variables()
    env = station_variables.group_compose_environment()
    assert "IDENTITY_DIR" not in env and env["SHARD_FILE"] == "/shard/shard.json"
    assert not set(env) & set(station_variables.PER_STATION)
