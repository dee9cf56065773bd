"""`make cost` and `make plan-aws` read the pacing as the stations do (fleetcore.setting_groups.Pacing): SPEEDUP and
INTERVAL are one setting, and one set in the environment replaces `.env`'s."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.aws.__main__ import main
from provisioning.aws.settings import AwsSettings
from tests.conftest import SAMPLE_DIR


@pytest.fixture
def dotenv_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder whose `.env` says INTERVAL=1, with SPEEDUP=10 in the environment."""
    (tmp_path / ".env").write_text("INTERVAL=1\nTOPIC=lab/weather\n")
    monkeypatch.chdir(tmp_path)
    for name in ("SPEEDUP", "INTERVAL", "MAX_RATE", "TOPIC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPEEDUP", "10")
    return tmp_path


def test_environment_speedup_replaces_dotenv_interval(dotenv_interval: Path) -> None:
    s = AwsSettings()
    assert (s.speedup, s.interval, s.replay_speed, s.max_rate, s.topic) == (10.0, None, 10.0, 100.0, "lab/weather")


def test_environment_interval_replaces_dotenv_speedup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("SPEEDUP=60\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPEEDUP", raising=False)
    monkeypatch.setenv("INTERVAL", "0.5")
    s = AwsSettings()
    assert (s.speedup, s.interval, s.effective_speedup) == (None, 0.5, None)


def test_both_in_one_place_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEEDUP", "10")
    monkeypatch.setenv("INTERVAL", "1")
    assert main(["cost", "--data-dir", str(SAMPLE_DIR), "--count", "1"]) == 2
    assert "set SPEEDUP or INTERVAL, not both" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["cost", "plan"])
def test_cost_and_plan_estimate_the_pacing_the_stations_run_at(dotenv_interval: Path, command: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--data-dir", str(SAMPLE_DIR), "--count", "2"]) == 0
    out = capsys.readouterr().out
    assert "peak message rate:" in out
    rate_line = next(line for line in out.splitlines() if "peak message rate:" in line)
    assert rate_line.endswith("SPEEDUP=10, MAX_RATE=100)"), rate_line
    assert "INTERVAL" not in out


def test_speed_option_is_speedup_and_replaces_any_interval(dotenv_interval: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SPEEDUP")
    monkeypatch.setenv("INTERVAL", "1")
    assert main(["cost", "--data-dir", str(SAMPLE_DIR), "--count", "1", "--speed", "7200"]) == 0
    assert "SPEEDUP=7200, MAX_RATE=100)" in capsys.readouterr().out
