"""scripts/bench_density.py: the capacity search, and the teardown on SIGINT/SIGTERM (real Docker engine)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.bench_density import next_rate

REPO = Path(__file__).resolve().parents[2]


def rows(*results: tuple[float, bool]) -> list[dict]:
    return [{"rate": r, "ok": ok} for r, ok in results]


def test_rates_in_order_until_one_misses() -> None:
    rates = [1000.0, 2500.0, 5000.0]
    assert next_rate([], rates, 1) == 1000.0
    assert next_rate(rows((1000, True)), rates, 1) == 2500.0
    assert next_rate(rows((1000, True), (2500, True), (5000, True)), rates, 1) is None


def test_then_bisects_between_the_best_good_and_the_lowest_missed_rate() -> None:
    rates = [2500.0, 5000.0]
    assert next_rate(rows((2500, True), (5000, False)), rates, 1) == 3750.0
    assert next_rate(rows((2500, True), (5000, False)), rates, 0) is None, "no steps left"
    assert next_rate(rows((2500, False)), rates, 1) == 1250.0, "below the first rate when it missed"
    assert next_rate(rows((2500, True), (5000, False), (3750, True)), rates, 2) == 4400.0  # rounded to 50


def project_objects(project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    found = []
    for kind, extra in (("container", ["-a"]), ("volume", []), ("network", [])):
        found += subprocess.run(["docker", kind, "ls", "-q", *extra, "--filter", label], capture_output=True,
                                text=True, timeout=60).stdout.split()
    return found


@pytest.mark.docker
@pytest.mark.slow
def test_sigint_tears_down_what_the_benchmark_started(tmp_path: Path) -> None:
    """SIGINT in the capacity search (SIGTERM in the overheads: the next test) tears everything down."""
    signum = signal.SIGINT
    data = Path(os.environ.get("DATA_DIR") or REPO / "tests" / "data" / "isd")
    proc = subprocess.Popen(
        [sys.executable, "scripts/bench_density.py", "--data-dir", str(data), "--counts", "4", "--per-container",
         "2", "--rates", "20", "--window", "5", "--overload", "0", "--compare", "0", "--overheads", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # started as from a shell's background job: SIGINT ignored unless the benchmark installs its own handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        project = re.search(r"compose project (\S+), FLEET_DIR (\S+)", line)
        assert project, line
        deadline = time.monotonic() + 300
        while not any(project_objects(project[1])[:1]) and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(3)  # in the middle of `make up` or the first round
        assert project_objects(project[1]), "the benchmark started its fleet"
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err[-2000:]
    assert "torn down what it started" in err
    assert project_objects(project[1]) == [], "nothing of the benchmark's compose project is left"
    assert not Path(project[2]).exists(), "its temporary fleet folder is gone"


@pytest.mark.docker
@pytest.mark.slow
def test_sigterm_during_the_overheads_tears_down_all_three_fleets(tmp_path: Path) -> None:
    data = Path(os.environ.get("DATA_DIR") or REPO / "tests" / "data" / "isd")
    proc = subprocess.Popen(
        [sys.executable, "scripts/bench_density.py", "--data-dir", str(data), "--counts", "0", "--compare", "0",
         "--overheads", "4", "--per-container", "2", "--overhead-rate", "20", "--overhead-window", "5"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"in compose projects (\S+), (\S+), (\S+)$", line.strip())
        assert found, line
        projects = list(found.groups())
        deadline = time.monotonic() + 300
        while not project_objects(projects[0]) and time.monotonic() < deadline:
            time.sleep(1)
        time.sleep(3)
        assert project_objects(projects[0]), "the benchmark started its first fleet"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "torn down what it started" in err
    assert [project_objects(p) for p in projects] == [[], [], []], "nothing of the three fleets is left"
