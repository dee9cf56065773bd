"""Shared fixtures: where the real ISD files are, and whether a Docker engine answers.

`DATA_DIR` overrides the ISD folder (default `../shared/data/isd` beside the repository). Tests that need the
files skip when it is absent. Tests that need Docker skip when no engine answers, unless `REQUIRE_DOCKER=1`
(set by CI), where a missing engine is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "isd"


def isd_data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR)


def isd_files() -> list[Path]:
    folder = isd_data_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".md"))


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def data_dir() -> Path:
    folder = isd_data_dir()
    if not isd_files():
        pytest.skip(f"no ISD files in {folder} (set DATA_DIR to a folder of ISD station-years)")
    return folder


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if docker_available():
        return
    if os.environ.get("REQUIRE_DOCKER") == "1":
        pytest.fail("REQUIRE_DOCKER=1 but no Docker engine answers `docker info` (start dockerd)")
    pytest.skip("no Docker engine answers `docker info`")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
