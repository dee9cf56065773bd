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
