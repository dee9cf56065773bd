"""The station and pipeline images hold exactly the lock: every package their requirements file pins, at that
version, and nothing else but the project itself (and pip/setuptools' leftover metadata)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;]+)")
LISTING = ("import importlib.metadata as m, json; "
           "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}))")
IMAGES = {
    "station": ("docker/station/Dockerfile", "requirements/station.txt"),
    "pipeline": ("docker/pipeline/Dockerfile", "requirements/pipeline.txt"),
}


def pins(requirements: Path) -> dict[str, str]:
    """name -> version of every package a requirements file pins (names normalised as pip does)."""
    found = {}
    for line in requirements.read_text().splitlines():
        match = PIN.match(line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def docker(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def test_pins_reads_a_requirements_file(tmp_path: Path) -> None:
    path = tmp_path / "r.txt"
    path.write_text("# header\nPydantic_Core==2.1 ; sys_platform == 'linux' \\\n    --hash=sha256:ab\nuv==0.9\n")
    assert pins(path) == {"pydantic-core": "2.1", "uv": "0.9"}


@pytest.mark.slow
@pytest.mark.parametrize("image", sorted(IMAGES))
def test_image_holds_the_locked_versions(image: str, docker_engine: None) -> None:
    dockerfile, requirements = IMAGES[image]
    tag = f"weather-fleet/{image}:lock-test"
    base = os.environ.get("BASE_IMAGE", "python:3.12-slim")
    build = docker("build", "-q", "-f", dockerfile, "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(REPO))
    assert build.returncode == 0, build.stderr[-3000:]
    run = docker("run", "--rm", "--entrypoint", "python3", tag, "-c", LISTING, timeout=120)
    assert run.returncode == 0, run.stderr
    installed = json.loads(run.stdout)
    locked = pins(REPO / requirements)
    assert {name: installed.get(name) for name in locked} == locked
    extra = set(installed) - set(locked) - {"weather-fleet", "pip"}
    assert extra == set()
    assert installed["weather-fleet"] == "0.1.0"
