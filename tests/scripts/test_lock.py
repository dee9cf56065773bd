"""The lock-is-current check (`make lock-check`, scripts/lock.py --check): green on this checkout, red with the
command that fixes it when pyproject.toml, uv.lock or a requirements file disagree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "scripts" / "lock.py"
FIX = "lock: run `make lock` (then `make venv && make test`) and commit pyproject.toml, uv.lock and requirements/"


def check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(LOCK), "--check", "--project", str(project)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what the lock is made from: pyproject.toml, uv.lock, requirements/ (and the README it names)."""
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "requirements", tmp_path / "requirements")
    return tmp_path


def test_this_checkout_is_locked() -> None:
    result = check(REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "lock: pyproject.toml, uv.lock and requirements/ agree\n"


def test_a_copy_is_locked(project: Path) -> None:
    result = check(project)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_new_dependency_without_make_lock_fails(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('  "orjson>=3.9",\n', '  "orjson>=3.9",\n  "tomli-w>=1.0",\n', 1))
    assert pyproject.read_text() != text
    result = check(project)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("lock: uv.lock does not match pyproject.toml (")
    assert lines[-1] == FIX


def test_a_hand_edited_requirements_file_fails(project: Path) -> None:
    station = project / "requirements" / "station.txt"
    lines = station.read_text().splitlines(keepends=True)
    pin = next(i for i, line in enumerate(lines) if line.startswith("orjson=="))
    lines[pin] = lines[pin].replace("orjson==", "orjson===", 1)
    station.write_text("".join(lines))
    result = check(project)
    assert result.returncode == 1
    out = result.stderr.splitlines()
    assert out[0].startswith("lock: requirements/station.txt is not what uv.lock gives (first difference: -orjson===")
    assert out[1] == FIX
    assert len(out) == 2


def test_a_missing_requirements_file_fails(project: Path) -> None:
    (project / "requirements" / "pipeline.txt").unlink()
    result = check(project)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("lock: requirements/pipeline.txt is not what uv.lock gives")


def test_each_install_path_reads_the_lock() -> None:
    """The venv, both images and the isd reference venv install a requirements file with hashes, nothing else."""
    makefile = (REPO / "Makefile").read_text()
    assert "pip install --quiet --require-hashes --no-deps -r requirements/dev.txt" in makefile
    for image, name in (("station", "station.txt"), ("pipeline", "pipeline.txt")):
        dockerfile = (REPO / "docker" / image / "Dockerfile").read_text()
        assert f"COPY requirements/{name} ./requirements/" in dockerfile
        installs = [line for line in dockerfile.splitlines() if "pip install" in line]
        assert installs and all("--no-deps" in line for line in installs), installs
    reference = (REPO / "scripts" / "reference_venv.py").read_text()
    assert '"--require-hashes", "--no-deps",' in reference
