"""Shared fixtures and the markers every test gets from what it uses.

Data. `tests/data/isd/` holds a small committed excerpt of real ISD files (see its README.txt). `data_dir` is
`DATA_DIR` (default `../shared/data/isd` beside the repository) when that folder holds ISD files, else the
excerpt: data tests never depend on a folder outside the repository. `SAMPLE_DIR` files are read directly by
tests that need one particular file. `station_years_dir` is for the few tests that need whole station-years (the
compose fleet, the pipeline end to end): it is `DATA_DIR` or nothing.

Missing parts. Tests that need Docker skip when no engine answers and tests that need whole station-years skip
when `DATA_DIR` has no ISD files, unless `REQUIRE_DOCKER=1` / `REQUIRE_DATA=1` (set by CI: `.ci/run`), where
either is a failure. `REQUIRE_DATA=1` also makes `data_dir` fail instead of falling back to the excerpt.

Markers (pyproject.toml) are applied here from the fixtures a test uses, directly or through other fixtures, so
new tests are marked without anyone remembering to: `docker` for `docker_engine` (which `tls_broker` and the
compose fleets use), `data` for `data_dir`, `station_years_dir` or `isd_sample`. `slow` stays explicit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "isd"
SAMPLE_DIR = REPO_ROOT / "tests" / "data" / "isd"
# Lines kept in the excerpt of 720538-00164-2021 (the file the replay and reliability tests replay).
SMALL_FILE = "720538-00164-2021"
SMALL_FILE_LINES = 400

DOCKER_FIXTURES = frozenset({"docker_engine"})
DATA_FIXTURES = frozenset({"data_dir", "station_years_dir", "isd_sample", "small_file"})


def isd_data_dir() -> Path:
    return Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR)


def _isd_files_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name[:1].isalnum()
                  and not p.name.endswith((".md", ".txt")))


def real_isd_files() -> list[Path]:
    """The ISD files in DATA_DIR (empty when it is absent)."""
    return _isd_files_in(isd_data_dir())


def isd_files() -> list[Path]:
    """The files data tests read: DATA_DIR's when it has any, else the committed excerpt's."""
    return real_isd_files() or _isd_files_in(SAMPLE_DIR)


def require(flag: str, reason: str) -> None:
    """Skip with `reason`, or fail when the environment sets `flag=1` (CI sets every REQUIRE_* flag)."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{flag}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """A folder of real ISD files: DATA_DIR when it has some, else the committed excerpt."""
    if real_isd_files():
        return isd_data_dir()
    if os.environ.get("REQUIRE_DATA") == "1":
        pytest.fail(f"REQUIRE_DATA=1 but DATA_DIR {isd_data_dir()} holds no ISD files (run `make data` or set "
                    "DATA_DIR)", pytrace=False)
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def station_years_dir() -> Path:
    """DATA_DIR, holding whole station-years (the lab's five at least, as `make data` fetches them)."""
    from stationdata.stations import missing_lab_files

    folder = isd_data_dir()
    if not real_isd_files():
        require("REQUIRE_DATA", f"no ISD files in DATA_DIR {folder} (run `make data` or set DATA_DIR)")
    if missing := missing_lab_files(folder):
        require("REQUIRE_DATA", f"DATA_DIR {folder} lacks the lab's {', '.join(missing)} (run `make data`)")
    return folder


@pytest.fixture(scope="session")
def isd_sample() -> object:
    """`isd_sample(name)`: the committed excerpt of ISD file `name` (tests/data/isd/)."""

    def path(name: str) -> Path:
        found = SAMPLE_DIR / name
        assert found.is_file(), f"{found} is not in the committed excerpt"
        return found

    return path


@pytest.fixture()
def small_file() -> Path:
    """The committed 400-line excerpt of 720538-00164-2021 (1-6 Jan 2021, KLMO), for replays."""
    return SAMPLE_DIR / SMALL_FILE


@pytest.fixture(scope="session")
def docker_engine() -> None:
    if not docker_available():
        require("REQUIRE_DOCKER", "no Docker engine answers `docker info` (start dockerd)")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by what it uses (fixtures include those of its fixtures): `docker`, `data`."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & DOCKER_FIXTURES:
            item.add_marker(pytest.mark.docker)
        if used & DATA_FIXTURES:
            item.add_marker(pytest.mark.data)
