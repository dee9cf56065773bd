"""Every environment variable is declared by one settings class (shared ones in fleetcore.setting_groups), and the
shared declarations hold the values the fleet's other files use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fleetcore.setting_groups import ContainerLayout, ImageSettings, Pacing
from scripts.settings_classes import declarations, duplicates, settings_class

REPO = Path(__file__).resolve().parents[2]

# The station's settings inherit the shared groups (TargetSetting, BrokerAddress, TopicSetting, Pacing) and group
# mode shares the replay's fields (station.settings.ReplayFields); DATA_DIR stays declared twice (the container's
# /data in group mode, the host's data/ in provisioning) until provisioning takes a shared group. No other duplicate
# may appear, and none outside station/.
STATION_PENDING = frozenset({"DATA_DIR"})


def test_no_variable_is_declared_twice_outside_the_station() -> None:
    found = duplicates()
    assert set(found) <= STATION_PENDING, {v: c for v, c in found.items() if v not in STATION_PENDING}
    for variable, classes in found.items():
        others = [c for c in classes if not c.startswith(("station.", "fleetcore.setting_groups."))]
        assert len(others) <= 1, f"{variable}: {classes}"


def test_the_finder_sees_every_package_and_a_planted_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = declarations()
    assert declared["FLEET_GID"] == ["fleetcore.setting_groups.ContainerLayout"]
    assert declared["PIPELINE_STACK_NAME"] == ["pipeline.aws.settings.PipelineAwsSettings"]
    assert declared["IOT_POLICY_NAME"] == ["provisioning.aws.settings.AwsSettings"]
    assert declared["SWARM_STACK"] == [f"{settings_class('SwarmSettings').__module__}.SwarmSettings"]
    # A class declaring a shared variable again is reported.
    from pydantic import Field

    from scripts import settings_classes as finder

    class Planted(ContainerLayout):
        fleet_gid: int = Field(1, validation_alias="FLEET_GID")

    real = finder.settings_classes()
    monkeypatch.setattr(finder, "settings_classes", lambda: [*real, Planted])
    assert "FLEET_GID" in finder.duplicates()


def test_the_finder_command_names_the_duplicates(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import settings_classes as finder

    monkeypatch.setattr(finder, "duplicates", lambda: {"X": ["a.A", "b.B"]})
    assert finder.main() == 1
    assert capsys.readouterr().out == "X: declared in a.A, b.B\n"


def test_group_zero_is_a_valid_fleet_gid_for_compose_and_swarm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_GID", "0")
    assert settings_class("SwarmSettings")().fleet_gid == 0
    assert settings_class("FleetSettings")().fleet_gid == 0
    monkeypatch.setenv("FLEET_UID", "0")  # the containers never run as root
    with pytest.raises(ValueError, match="FLEET_UID"):
        settings_class("SwarmSettings")()


def test_image_defaults_are_compose_yaml_defaults() -> None:
    """compose.yaml's `${MOSQUITTO_IMAGE:-...}` (the broker with the fleet_identity plugin) is the settings' default."""
    images = {}
    for name in ("compose.yaml", "compose.pipeline.yaml"):
        for service in yaml.safe_load((REPO / name).read_text())["services"].values():
            image = service.get("image", "")
            if image.startswith("${") and ":-" in image:
                variable, default = image[2:-1].split(":-", 1)
                images[variable] = default
    defaults = {field.validation_alias: field.default for field in ImageSettings.model_fields.values()}
    assert images == defaults == {"STATION_IMAGE": "weather-fleet/station:latest",
                                  "MOSQUITTO_IMAGE": "weather-fleet/mosquitto:latest",
                                  "PIPELINE_IMAGE": "weather-fleet/pipeline:latest"}


@pytest.mark.parametrize(("dotenv", "environment", "expected"), [
    ("INTERVAL=1\n", {"SPEEDUP": "10"}, (10.0, None)),
    ("SPEEDUP=60\n", {"INTERVAL": "0"}, (None, 0.0)),
    ("SPEEDUP=60\n", {}, (60.0, None)),
    ("", {}, (None, None)),
])
def test_pacing_group_applies_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dotenv: str,
                                       environment: dict[str, str], expected: tuple) -> None:
    (tmp_path / ".env").write_text(dotenv)
    monkeypatch.chdir(tmp_path)
    for name in ("SPEEDUP", "INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    s = Pacing()
    assert (s.speedup, s.interval) == expected
    assert s.effective_speedup == (None if expected[1] is not None else expected[0] or 3600.0)
