"""The fleet under compose, as `make` runs it (issue 10, items 4 and 5), under every compose implementation present
(docker-compose 1.29 and v2):

- `make up` and `make lake-up` in any order never recreate the running broker (nor the stations);
- no container runs as root unless it must: the stations and the lake writer run as a non-root user (even when
  make runs as root), the broker's root keeps only the capabilities Mosquitto needs, every container has
  `no-new-privileges` and a read-only root filesystem; the broker's ACL can still be reloaded;
- the lake writer's final counts are kept after `make lake-down`;
- a station with a configuration error is restarted a bounded number of times, then stays exited.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.support.compose_fleet import ComposeFleet, compose_implementations
from tests.support.broker import broker_image as broker_image_name

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

STATION_ENV = {"SPEEDUP": "3600", "PROGRESS_INTERVAL": "5", "LOG_FORMAT": "text", "LOOP": "false",
               "TIME_MODE": "original", "TOPIC": "sensor/weather"}
BROKER_CAPABILITIES = {"CHOWN", "DAC_READ_SEARCH", "SETGID", "SETUID"}
STATION_RETRIES = 3  # compose.yaml: restart: on-failure:3

IMPLEMENTATIONS = compose_implementations()


def inspect(cid: str) -> dict:
    out = subprocess.run(["docker", "inspect", cid], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)[0]  # type: ignore[no-any-return]


def process_uid(cid: str) -> int:
    """The real uid of the container's main process (PID 1)."""
    status = subprocess.run(["docker", "exec", cid, "cat", "/proc/1/status"], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def caps(names: list[str] | None) -> set[str]:
    return {name.upper().removeprefix("CAP_") for name in names or []}


def make_ok(fleet: ComposeFleet, target: str, *variables: str) -> str:
    out = fleet.make(target, *variables, timeout=600)
    assert out.returncode == 0, f"make {target}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


@pytest.fixture(scope="module", params=sorted(IMPLEMENTATIONS) or ["none"])
def fleet(request: pytest.FixtureRequest, docker_engine: None, station_years_dir: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeFleet]:
    if request.param not in IMPLEMENTATIONS:
        require("REQUIRE_DOCKER", "no compose implementation installed")
    work = tmp_path_factory.mktemp(f"hardening-{request.param}")
    # The broker image under a tag of this test's own: another job retagging the shared one (e.g. local/mosquitto:ci)
    # would otherwise make compose recreate the broker, which is what the test looks for.
    broker_image = f"weather-fleet/mosquitto:hardening-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "tag", broker_image_name(), broker_image], capture_output=True, timeout=60, check=True)
    f = ComposeFleet(work, station_years_dir, IMPLEMENTATIONS[request.param], LAKE_DIR=str(work / "lake"),
                     MOSQUITTO_IMAGE=broker_image, **STATION_ENV)
    try:
        make_ok(f, "up")
        yield f
    finally:
        f.teardown()
        subprocess.run(["docker", "rmi", broker_image], capture_output=True, timeout=60)


def test_alternating_up_and_lake_up_never_recreate_the_broker(fleet: ComposeFleet) -> None:
    broker = fleet.container_id("broker")
    started = fleet.started_at("broker")
    stations = {s: fleet.container_id(s) for s in ("station-1", "station-5")}
    assert broker and all(stations.values())
    for target in ("lake-up", "up", "lake-up", "up"):
        make_ok(fleet, target)
        assert fleet.container_id("broker") == broker, f"`make {target}` recreated the broker"
        assert fleet.started_at("broker") == started, f"`make {target}` restarted the broker"
    assert {s: fleet.container_id(s) for s in stations} == stations
    assert "lake" in fleet.running_services()
    fleet.wait_healthy("broker")  # the healthcheck works with the broker's few capabilities


def test_no_container_runs_as_root_unless_it_must(fleet: ComposeFleet) -> None:
    if "lake" not in fleet.running_services():
        make_ok(fleet, "lake-up")
    for service in ("station-1", "lake"):
        cid = fleet.container_id(service)
        info = inspect(cid)
        user = info["Config"]["User"]
        assert user and user.split(":")[0] not in ("0", "root"), f"{service} runs as {user!r}"
        assert process_uid(cid) != 0, service
        host = info["HostConfig"]
        assert host["ReadonlyRootfs"] is True and caps(host["CapDrop"]) == {"ALL"} and not host["CapAdd"], service
        assert "no-new-privileges:true" in host["SecurityOpt"], service
    # The broker starts as root only to hand the certificates to the mosquitto user, then drops to it.
    cid = fleet.container_id("broker")
    host = inspect(cid)["HostConfig"]
    assert caps(host["CapDrop"]) == {"ALL"} and caps(host["CapAdd"]) == BROKER_CAPABILITIES
    assert "no-new-privileges:true" in host["SecurityOpt"] and host["ReadonlyRootfs"] is True
    assert process_uid(cid) != 0  # mosquitto itself


def test_acl_reload_still_works_without_the_dropped_capabilities(fleet: ComposeFleet) -> None:
    acl = fleet.fleet_dir / "broker" / "acl"
    acl.write_text(acl.read_text() + "# changed by the hardening test\n")
    started = fleet.started_at("broker")
    out = make_ok(fleet, "broker-reload")
    assert "reloading its ACL" in out
    cid = fleet.container_id("broker")
    copied = subprocess.run(["docker", "exec", cid, "cat", "/mosquitto/certs/acl"], capture_output=True, text=True,
                            timeout=30)
    assert copied.stdout == acl.read_text()
    assert fleet.started_at("broker") == started
    deadline = time.monotonic() + 10
    while "reloading" not in fleet.logs("broker").lower():  # Mosquitto: "Reloading config."
        assert time.monotonic() < deadline, fleet.logs("broker")[-2000:]
        time.sleep(0.2)
    assert "reloading its ACL" not in make_ok(fleet, "broker-reload")  # nothing changed: nothing done


def test_lake_writer_counts_outlive_lake_down(fleet: ComposeFleet) -> None:
    if "lake" not in fleet.running_services():
        make_ok(fleet, "lake-up")
    lake_dir = Path(fleet.env["LAKE_DIR"])
    before = set((lake_dir / "_runs").glob("*.json"))
    deadline = time.monotonic() + 60
    while "subscribed to" not in fleet.logs("lake"):
        assert time.monotonic() < deadline, fleet.logs("lake")[-3000:] + "\nbroker:\n" + fleet.logs("broker")[-3000:]
        time.sleep(0.5)
    time.sleep(3)  # some messages arrive
    out = make_ok(fleet, "lake-down")
    assert "lake" not in fleet.running_services()
    runs = sorted(set((lake_dir / "_runs").glob("*.json")) - before)
    assert len(runs) == 1, out
    record = json.loads(runs[0].read_text())
    assert record["received"] > 0 and record["duplicates_dropped"] >= 0, record
    assert "lake writer's last run" in out and f'"received": {record["received"]}' in out


def test_the_ca_key_is_never_mounted(fleet: ComposeFleet) -> None:
    """What held in the fault run, kept as a test: no container sees the CA's private key."""
    ca_dir = fleet.fleet_dir / "ca"
    assert (ca_dir / "ca.key").is_file()
    for cid in fleet.containers(all_states=False):
        for mount in inspect(cid)["Mounts"]:
            source = Path(mount.get("Source", ""))
            assert source != ca_dir and ca_dir not in source.parents, (cid, mount)
    files = subprocess.run(["docker", "exec", fleet.container_id("broker"), "ls", "/run/fleet-broker",
                            "/mosquitto/certs"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert "ca.key" not in files and "server.key" in files


def test_docker_stop_drains_and_exits_0_with_a_summary(fleet: ComposeFleet) -> None:
    """What held in the fault run, kept as a test: SIGTERM drains, summarises and exits 0 (not restarted)."""
    cid = fleet.container_id("station-2")
    stop = subprocess.run(["docker", "stop", "-t", "30", cid], capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    state = inspect(cid)["State"]
    out = subprocess.run(["docker", "logs", cid], capture_output=True, text=True, timeout=30)
    logs = out.stdout + out.stderr
    assert state["Status"] == "exited" and state["ExitCode"] == 0, logs[-2000:]
    assert "signal SIGTERM" in logs and "summary reason=SIGTERM" in logs and "Traceback" not in logs


def test_configuration_error_is_restarted_a_bounded_number_of_times(fleet: ComposeFleet) -> None:
    env = {**fleet.env, "SPEEDUP": "fast"}
    subprocess.run([*fleet.base, "up", "-d", "--no-deps", "station-5"], cwd=fleet.fleet_dir.parent, env=env,
                   capture_output=True, text=True, timeout=300, check=True)
    cid = fleet.container_id("station-5")
    policy = inspect(cid)["HostConfig"]["RestartPolicy"]
    assert policy == {"Name": "on-failure", "MaximumRetryCount": STATION_RETRIES}
    deadline = time.monotonic() + 90
    while True:
        state = inspect(cid)
        if state["State"]["Status"] == "exited" and state["RestartCount"] == STATION_RETRIES:
            break
        assert time.monotonic() < deadline, state["State"]
        time.sleep(0.5)
    time.sleep(5)  # and it stays down
    state = inspect(cid)
    assert state["State"]["Status"] == "exited" and state["RestartCount"] == STATION_RETRIES
    assert state["State"]["ExitCode"] == 2
    out = subprocess.run(["docker", "logs", cid], capture_output=True, text=True, timeout=30)
    logs = out.stdout + out.stderr
    assert logs.count("invalid SPEEDUP='fast'") == STATION_RETRIES + 1 and "Traceback" not in logs
    assert logs.count("reason=config-error") == STATION_RETRIES + 1


def test_make_down_removes_the_lake_writer_too(fleet: ComposeFleet) -> None:
    """The lake belongs to the project (compose.pipeline.yaml is always merged): `make down` removes it with the
    fleet, under compose v2 too, where a service of an inactive profile is no orphan."""
    if "lake" not in fleet.running_services():
        make_ok(fleet, "lake-up")
    make_ok(fleet, "down")
    assert fleet.containers() == []
