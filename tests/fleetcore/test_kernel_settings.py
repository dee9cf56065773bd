"""Every package's settings go through the kernel: FleetSettingsBase, load_settings (one line per bad variable,
the package's own ConfigError) and one TOPIC rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from fleetcore import errors
from fleetcore.settings import FleetSettingsBase, load_settings
from pipeline.aws.settings import PipelineAwsSettings
from pipeline.errors import ConfigError as PipelineConfigError
from pipeline.errors import PipelineError
from pipeline.settings import PipelineSettings
from provisioning.aws.settings import AwsSettings
from provisioning.errors import ConfigError as ProvisioningConfigError
from provisioning.errors import ProvisioningError
from provisioning.settings import FleetSettings
from station.errors import ConfigError as StationConfigError
from station.errors import StationError
from station.settings import StationSettings

SETTINGS: list[tuple[type[BaseSettings], type[errors.ConfigError], type[errors.FleetError]]] = [
    (StationSettings, StationConfigError, StationError),
    (FleetSettings, ProvisioningConfigError, ProvisioningError),
    (AwsSettings, ProvisioningConfigError, ProvisioningError),
    (PipelineSettings, PipelineConfigError, PipelineError),
    (PipelineAwsSettings, PipelineConfigError, PipelineError),
]
STATION_REQUIRED = {"THING_NAME": "ws-1", "DATA_FILE": "x.gz"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in STATION_REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TOPIC", raising=False)


@pytest.mark.parametrize(("model", "error", "base"), SETTINGS)
def test_every_settings_class_uses_the_kernel(model: type[BaseSettings], error: type[errors.ConfigError],
                                              base: type[errors.FleetError]) -> None:
    assert issubclass(model, FleetSettingsBase)
    assert issubclass(error, base) and issubclass(error, errors.ConfigError) and issubclass(base, errors.FleetError)


@pytest.mark.parametrize(("model", "error", "base"), SETTINGS)
@pytest.mark.parametrize("topic", ["sensor/#", "sensor/+/x", "$SYS/x", "it's", " padded"])
def test_topic_has_one_rule_everywhere(monkeypatch: pytest.MonkeyPatch, model: type[BaseSettings],
                                       error: type[errors.ConfigError], base: type[errors.FleetError],
                                       topic: str) -> None:
    monkeypatch.setenv("TOPIC", topic)
    with pytest.raises(error) as raised:
        load_settings(model, error)
    lines = str(raised.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith("invalid TOPIC=")


@pytest.mark.parametrize(("model", "error", "base"), SETTINGS)
def test_a_non_default_topic_is_accepted_everywhere(monkeypatch: pytest.MonkeyPatch, model: type[BaseSettings],
                                                    error: type[errors.ConfigError],
                                                    base: type[errors.FleetError]) -> None:
    monkeypatch.setenv("TOPIC", "other/topic")
    settings = load_settings(model, error)
    assert "other/topic" in settings.model_dump().values()


def test_each_bad_variable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPEEDUP", "fast")
    monkeypatch.setenv("MQTT_PORT", "0")
    monkeypatch.delenv("THING_NAME")
    with pytest.raises(StationConfigError) as raised:
        load_settings(StationSettings, StationConfigError)
    lines = sorted(str(raised.value).splitlines())
    assert len(lines) == 3
    assert lines[0].startswith("THING_NAME is not set")
    assert lines[1].startswith("invalid MQTT_PORT=") and lines[2].startswith("invalid SPEEDUP='fast'")


def test_cli_report_prints_each_line_and_picks_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert errors.report(PipelineConfigError("invalid A=1: no\ninvalid B=2: no"), "pipeline sql") == 2
    assert errors.report(StationError("broker gone"), "station") == 1
    assert capsys.readouterr().err.splitlines() == ["pipeline sql: invalid A=1: no", "pipeline sql: invalid B=2: no",
                                                    "station: broker gone"]
