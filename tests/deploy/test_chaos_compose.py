"""`make chaos` and `make audit` on a real compose fleet (real broker image, real station containers).

One compose project (broker, station-1, station-2, paced slowly so they keep running) serves the module; it is
always torn down. The station image is built once (`weather-fleet/station:chaos-test` unless STATION_IMAGE is set;
later runs use the build cache).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.faults.truth import truth_path
from tests.support.compose_fleet import REPO, ComposeFleet

pytestmark = [pytest.mark.docker, pytest.mark.timeout(400)]

STATION_ENV = {"SPEEDUP": "60", "LOOP": "true", "LOG_FORMAT": "text", "PROGRESS_INTERVAL": "1",
               "TIME_MODE": "original", "TOPIC": "sensor/weather",
               "STATION_IMAGE": os.environ.get("STATION_IMAGE", "weather-fleet/station:chaos-test")}


@pytest.fixture(scope="module")
def fleet(docker_engine: None, station_years_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeFleet]:
    tmp = tmp_path_factory.mktemp("chaos")
    f = ComposeFleet(tmp, station_years_dir, LAKE_DIR=str(tmp / "lake"), **STATION_ENV)
    f.register()
    try:
        f.compose("build", "station-1")
        f.compose("up", "-d", "broker", "station-1", "station-2", timeout=180)
        f.wait_healthy("broker")
        yield f
    finally:
        f.teardown()


def inspect(fleet: ComposeFleet, service: str, template: str) -> str:
    out = subprocess.run(["docker", "inspect", "-f", template, fleet.container_id(service)], capture_output=True,
                         text=True, timeout=30, check=True)
    return out.stdout.strip()


def thing_of(fleet: ComposeFleet, service: str) -> str:
    """The thing a station service plays (THING_NAME in its container's environment)."""
    env = json.loads(inspect(fleet, service, "{{json .Config.Env}}"))
    return next(v.split("=", 1)[1] for v in env if v.startswith("THING_NAME="))


def truth_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_make_chaos_restarts_the_broker_and_pauses_a_station_on_schedule(fleet: ComposeFleet,
                                                                         tmp_path: Path) -> None:
    scenario = tmp_path / "chaos.yaml"
    scenario.write_text("seed: 11\nname: restart-and-pause\nfleet:\n"
                        "  - {kind: broker_restart, at: 1, seconds: 2}\n"
                        "  - {kind: pause, at: 1.5, seconds: 2, target: {names: [station-1]}}\n")
    broker_started = fleet.started_at("broker")
    out = fleet.make("chaos", f"FAULTS={scenario}", timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    lines = truth_lines(truth_path(fleet.fleet_dir / "state" / "chaos", "chaos"))
    assert lines[0]["kind"] == "start" and lines[0]["params"] == {"seed": 11, "name": "restart-and-pause",
                                                                  "steps": 2}
    events = [(d["thing"], d["kind"], d["params"]["phase"]) for d in lines[1:]]
    assert events == [("broker", "broker_restart", "begin"), ("station-1", "pause", "begin"),
                      ("broker", "broker_restart", "end"), ("station-1", "pause", "end")]
    t0 = lines[0]["t"]
    begin_b, begin_p, end_b, end_p = (d["t"] - t0 for d in lines[1:])
    # On schedule: never early; each restore at least `seconds` after its fault (the bound above is generous).
    assert 1.0 <= begin_b < 6 and 1.5 <= begin_p < 8
    assert 2.0 <= end_b - begin_b < 8 and 2.0 <= end_p - begin_p < 8
    assert all(d["params"]["container"] == lines[1 + i]["params"]["container"] for i, d in enumerate(lines[1:3]))
    # Restored: the broker really restarted and is healthy again; the station runs (not paused).
    assert fleet.started_at("broker") != broker_started
    fleet.wait_healthy("broker", timeout=60)
    assert inspect(fleet, "station-1", "{{.State.Status}}") == "running"


def test_sigterm_restores_a_pause_and_a_network_cut_at_once(fleet: ComposeFleet, tmp_path: Path) -> None:
    networks = "{{json .NetworkSettings.Networks}}"
    before = {n: sorted(a for a in c["Aliases"] or [] if not fleet.container_id("station-2").startswith(a))
              for n, c in json.loads(inspect(fleet, "station-2", networks)).items()}
    assert before, "station-2 is on no network"
    scenario = tmp_path / "long.yaml"
    scenario.write_text("seed: 2\nfleet:\n  - {kind: pause, at: 0, seconds: 600, target: {names: [station-1]}}\n"
                        "  - {kind: network_cut, at: 0, seconds: 600, target: {names: [station-2]}}\n")
    state = tmp_path / "state"
    proc = subprocess.Popen([sys.executable, "-m", "deploy.chaos", "run", "--faults", str(scenario), "--project",
                             fleet.project, "--state", str(state)], cwd=REPO, env=fleet.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(truth_lines(truth_path(state, "chaos"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert inspect(fleet, "station-1", "{{.State.Status}}") == "paused"
        assert json.loads(inspect(fleet, "station-2", networks)) == {}
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stdout + stderr
    assert "interrupted: restored what it had changed" in stdout
    events = [(d["thing"], d["kind"], d["params"]["phase"]) for d in truth_lines(truth_path(state, "chaos"))[1:]]
    assert events == [("station-1", "pause", "begin"), ("station-2", "network_cut", "begin"),
                      ("station-1", "pause", "end"), ("station-2", "network_cut", "end")]
    assert inspect(fleet, "station-1", "{{.State.Status}}") == "running"
    after = {n: sorted(a for a in c["Aliases"] or [] if not fleet.container_id("station-2").startswith(a))
             for n, c in json.loads(inspect(fleet, "station-2", networks)).items()}
    assert after == before


def test_make_audit_collects_the_stations_state_first(fleet: ComposeFleet) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a station writes its checkpoint once the broker acknowledged something
        out = fleet.make("collect-state", timeout=120)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        if list((fleet.fleet_dir / "state" / "station-2").glob("*.checkpoint.json")):
            break
        time.sleep(2)
    files = sorted(p.relative_to(fleet.fleet_dir / "state").as_posix()
                   for p in (fleet.fleet_dir / "state").rglob("*") if p.is_file())
    things = {s: thing_of(fleet, s) for s in ("station-1", "station-2")}
    assert {f"{s}/{t}.checkpoint.json" for s, t in things.items()} | {f"{s}/{t}.status.json"
                                                                       for s, t in things.items()} \
        | {"chaos/chaos.faults.jsonl"} == set(files)
    out = fleet.make("audit", "JSON=1", timeout=120)
    # No lake writer ran: every acknowledged message is missing, so the audit fails (exit 3 -> make's 2).
    assert out.returncode == 2, out.stdout[-3000:] + out.stderr[-3000:]
    assert "\nstation-2: " in out.stdout and "state file(s) from its" in out.stdout  # collected first
    report = json.loads(out.stdout[out.stdout.index("\n{") + 1:])
    assert report["failed"] is True
    acked = {s["thing"]: s["acked_through"] for s in report["stations"]}
    assert set(acked) == set(things.values()) and acked[things["station-2"]] > 0
    assert report["total"]["missing"] == report["total"]["expected"] > 0
    kinds = [(e["thing"], e["kind"], e["params"]["phase"]) for e in report["fleet_faults"]]
    assert ("broker", "broker_restart", "begin") in kinds  # the chaos run of the first test, kept beside
