"""`python -m provisioning`: the local commands end to end, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from provisioning import cli
from stationdata.data import ensure_lab_data, ncei_url
from stationdata.stations import LAB_STATION_FILES, assign, discover

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioning", *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=60)


def test_register_cli_twice_with_real_data(tmp_path: Path, data_dir: Path) -> None:
    first = run_cli("register", "--fleet-dir", str(tmp_path / "f"), "--data-dir", str(data_dir))
    assert first.returncode == 0, first.stderr
    assert "local fleet ready: 5 stations + monitor" in first.stdout
    second = run_cli("register", "--fleet-dir", str(tmp_path / "f"), "--data-dir", str(data_dir))
    assert second.returncode == 0 and "local fleet unchanged" in second.stdout
    assert "wrote" not in second.stdout
    show = run_cli("show", "--fleet-dir", str(tmp_path / "f"))
    assert show.returncode == 0 and "723123-14886-2022" in show.stdout


def test_aws_target_without_the_aws_module_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "_aws_module", lambda: None)
    assert cli.main(["register", "--target", "aws", "--dry-run"]) == 2
    assert "provisioning.aws.commands" in capsys.readouterr().err


def test_show_without_a_fleet_names_make_register(tmp_path: Path) -> None:
    out = run_cli("show", "--fleet-dir", str(tmp_path / "none"))
    assert out.returncode == 1 and "make register" in out.stderr


def test_invalid_setting_names_the_variable(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "FLEET_COUNT": "many"}
    out = run_cli("register", "--fleet-dir", str(tmp_path / "f"), env=env)
    assert out.returncode == 2 and "FLEET_COUNT" in out.stderr


def test_discovery_puts_the_lab_first_and_prefers_plain_files(tmp_path: Path) -> None:
    for name in ["725300-94846-1983", "720538-00164-2020.gz", "723123-14886-2022.gz", "723123-14886-2022",
                 "030910-99999-2022.gz", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    names = [f.path.name for f in discover(tmp_path)]
    assert names == ["030910-99999-2022.gz", "723123-14886-2022", "720538-00164-2020.gz", "725300-94846-1983"]
    assert [f.path.name for f in assign(6, tmp_path)][4:] == ["030910-99999-2022.gz", "723123-14886-2022"]


def test_data_uses_files_already_there(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ensure_lab_data(data_dir, download_missing=False) == 0
    assert "holds the lab's 5 station-years" in capsys.readouterr().out


def test_data_check_names_the_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ensure_lab_data(tmp_path, download_missing=False) == 1
    err = capsys.readouterr().err
    assert all(stem in err for stem in LAB_STATION_FILES) and "DATA_DIR" in err


def test_download_failure_explains_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stationdata.data_settings import DataSettings
    from stationdata.sources import NceiSource, S3Source
    from tests.support.isd_server import closed_port

    sources = [NceiSource(f"http://127.0.0.1:{closed_port()}", 5),
               S3Source("noaa-isd-pds", "us-east-1", f"http://127.0.0.1:{closed_port()}", 5)]
    settings = DataSettings(data_attempts=1)
    assert ensure_lab_data(tmp_path / "data", settings=settings, sources=sources) == 1
    err = capsys.readouterr().err
    assert "set DATA_DIR" in err and "No internet access?" in err
    assert not any((tmp_path / "data").iterdir())


def test_ncei_url() -> None:
    assert ncei_url("723123-14886-2022") == "https://www.ncei.noaa.gov/pub/data/noaa/2022/723123-14886-2022.gz"


def test_unreadable_manifest_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "manifest.json").write_text('{"version": 1, "target": "moon"}')
    out = run_cli("show", "--fleet-dir", str(fleet))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("provisioning: unreadable fleet manifest") and "make register" in out.stderr
