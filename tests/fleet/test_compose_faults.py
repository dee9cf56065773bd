"""A real compose fleet with FAULTS (issue 20 §1): `deploy write` resolves the scenario, `deploy up` starts the
station with it mounted read-only, and the station container's ground truth (STATE_DIR/<thing>.faults.jsonl,
copied out by `deploy.chaos collect-state`) records exactly the duplicates the rule injects."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.faults.truth import FaultTally, read_truth, truth_files
from tests.support.compose_fleet import REPO, ComposeFleet

EXCERPT = REPO / "tests" / "data" / "isd"  # 40 records of 030910-99999-2022: a run of a few seconds
SCENARIO = """seed: 5
rules:
  - kind: duplicate
    select: {count: 1}     # resolved against the fleet by `deploy write`
    when: {every: 8}
fleet:
  - {kind: broker_restart, at: 1m, seconds: 1}   # make chaos's part: the stations ignore it
"""


@pytest.fixture()
def fleet(docker_engine: None, tmp_path: Path) -> Iterator[ComposeFleet]:
    scenario = tmp_path / "faults.yaml"
    scenario.write_text(SCENARIO)
    image = f"weather-fleet/station:faults-{uuid.uuid4().hex[:6]}"
    f = ComposeFleet(tmp_path, EXCERPT, FLEET_COUNT="1", FAULTS=str(scenario), STATION_IMAGE=image,
                     INTERVAL="0.02", LOOP="false", LOG_FORMAT="text", TOPIC="sensor/weather")
    f.register()
    try:
        f.compose("build", "station-1")
        yield f
    finally:
        f.teardown()
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True, timeout=120)


def _wait_exited(f: ComposeFleet, service: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cid = f.container_id(service)
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        if state.startswith("exited"):
            return state
        time.sleep(1)
    raise TimeoutError(f"{service} still running after {timeout} s:\n{f.logs(service)}")


def test_deploy_up_runs_the_scenario_and_the_ground_truth_holds_its_duplicates(fleet: ComposeFleet,
                                                                              tmp_path: Path) -> None:
    up = subprocess.run([sys.executable, "-m", "deploy", "up"], cwd=REPO, env=fleet.env, capture_output=True,
                        text=True, timeout=300)
    assert up.returncode == 0, up.stderr
    assert _wait_exited(fleet, "station-1") == "exited 0", fleet.logs("station-1")
    cid = fleet.container_id("station-1")
    mounts = subprocess.run(["docker", "inspect", "-f", '{{range .Mounts}}{{.Destination}}={{.RW}} {{end}}', cid],
                            capture_output=True, text=True, timeout=30).stdout.split()
    assert "/faults=false" in mounts
    collected = tmp_path / "state"
    out = subprocess.run([sys.executable, "-m", "deploy.chaos", "collect-state", "--project", fleet.project,
                          "--into", str(collected), "--image", fleet.env["STATION_IMAGE"]], cwd=REPO,
                         env=fleet.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    thing = "weather-station-1"
    files = truth_files([collected])
    assert [p.relative_to(collected).as_posix() for p in files] == [f"station-1/{thing}.faults.jsonl"]
    tally = FaultTally.of(read_truth(files))
    assert tally.things() == {thing}
    assert tally.of_kind(thing, "duplicate") == {8, 16, 24, 32, 40}
