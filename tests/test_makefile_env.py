"""The Makefile's `.env` loading: the environment wins, and SPEEDUP/INTERVAL are one setting (as in the station)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHOW = 'show:\n\t@echo "SPEEDUP=[$$SPEEDUP] INTERVAL=[$$INTERVAL] TOPIC=[$$TOPIC]"\n'


def exported(tmp_path: Path, dotenv: str, *args: str, **env: str) -> str:
    (tmp_path / ".env").write_text(dotenv)
    (tmp_path / "show.mk").write_text(SHOW)
    base = {k: v for k, v in os.environ.items() if k not in ("SPEEDUP", "INTERVAL", "TOPIC", "MAKEFLAGS")}
    out = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "-f", "show.mk", "show", *args], cwd=tmp_path,
                         env={**base, **env}, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(("env", "args", "expected"), [
    ({}, (), "SPEEDUP=[3600] INTERVAL=[] TOPIC=[a/b]"),
    ({"INTERVAL": "1"}, (), "SPEEDUP=[] INTERVAL=[1] TOPIC=[a/b]"),
    ({}, ("INTERVAL=0",), "SPEEDUP=[] INTERVAL=[0] TOPIC=[a/b]"),
    ({"SPEEDUP": "60"}, (), "SPEEDUP=[60] INTERVAL=[] TOPIC=[a/b]"),
    ({"TOPIC": "c/d"}, (), "SPEEDUP=[3600] INTERVAL=[] TOPIC=[c/d]"),
])
def test_environment_wins_and_pacing_is_one_setting(tmp_path: Path, env: dict, args: tuple, expected: str) -> None:
    assert exported(tmp_path, "SPEEDUP=3600\nTOPIC=a/b\n", *args, **env) == expected


def test_dotenv_interval_is_dropped_when_the_environment_sets_speedup(tmp_path: Path) -> None:
    assert exported(tmp_path, "INTERVAL=1\n", SPEEDUP="10") == "SPEEDUP=[10] INTERVAL=[] TOPIC=[]"


def test_the_tests_see_none_of_the_makefiles_own_variables(tmp_path: Path) -> None:
    """`make test` runs pytest without what the Makefile defines (a leaked MONITOR_IDENTITY_DIR pointed the tests'
    own fleets at this checkout's .fleet), but with the environment's variables and the images to use."""
    (tmp_path / ".env").write_text("SPEEDUP=3600\nTOPIC=a/b\n")
    (tmp_path / "seen.mk").write_text('seen:\n\t@env $(addprefix -u ,$(_TEST_UNSET)) env\n')
    base = {k: v for k, v in os.environ.items() if k not in ("SPEEDUP", "TOPIC", "MAKEFLAGS", "MONITOR_IDENTITY_DIR")}
    out = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "-f", "seen.mk", "seen"], cwd=tmp_path,
                         env={**base, "TOPIC": "c/d", "BASE_IMAGE": "local/x"}, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for name in ("MONITOR_IDENTITY_DIR", "FLEET_GROUPS", "FLEET_SIZE", "FLEET_DIR", "PY", "SPEEDUP"):
        assert name not in seen, name
    assert seen["TOPIC"] == "c/d" and seen["BASE_IMAGE"] == "local/x"
