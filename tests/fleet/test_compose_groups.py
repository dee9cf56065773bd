"""End to end on a real Docker engine, through the Makefile: 200 stations in 2 group containers
(`make up FLEET_COUNT=200 STATIONS_PER_CONTAINER=100`); the monitor gets every seq of every station; `make ps`
shows the groups healthy; `make down` leaves no container.

Short data (five 20-record files, so copies are cycled with start offsets) and INTERVAL=0.05 keep it quick.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.shard import load
from fleetcore.manifest import load_manifest
from stationdata.stations import LAB_STATION_FILES
from tests.support.compose_fleet import ComposeFleet
from tests.station.group.support import write_isd
from tests.support.certs import Identity
from tests.support.mqtt import Subscriber

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

COUNT, PER = 200, 100
RECORDS = 20
STATION_ENV = {"INTERVAL": "0.05", "PROGRESS_INTERVAL": "2", "LOG_FORMAT": "text", "LOOP": "false",
               "TIME_MODE": "original", "TOPIC": "sensor/weather", "CONNECT_RATE": "200",
               "STATION_IMAGE": os.environ.get("STATION_IMAGE", "weather-fleet/station:density-test")}
SIZE = (f"FLEET_COUNT={COUNT}", f"STATIONS_PER_CONTAINER={PER}")


@pytest.fixture(scope="module")
def fleet(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeFleet]:
    tmp = tmp_path_factory.mktemp("groups")
    isd = tmp / "isd"
    isd.mkdir()
    for stem in LAB_STATION_FILES:  # the lab's names: `make data` finds them and downloads nothing
        write_isd(isd / stem, list(range(0, RECORDS * 30, 30)), usaf=stem[:6])
    for p in [isd, *isd.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    f = ComposeFleet(tmp, isd, **STATION_ENV)
    try:
        for target in ("register", "images"):
            out = f.make(target, *SIZE, timeout=600)
            assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        f.compose("up", "-d", "broker", timeout=180)
        f.wait_healthy("broker")
        yield f
    finally:
        f.teardown()


def test_every_seq_of_every_station_then_make_down(fleet: ComposeFleet) -> None:
    stations = load_manifest(fleet.fleet_dir).stations()
    expected = {t.thing_name: RECORDS - t.start_offset for t in stations}
    assert len({t.start_offset for t in stations}) > 10, "cycled copies start at different records"
    assert [len(load(fleet.fleet_dir / "shards" / f"shard-{n}.json").things) for n in (1, 2)] == [PER, PER]
    seqs: dict[str, set[int]] = defaultdict(set)
    # A persistent session: should `make up` recreate the broker, the subscription and queued messages survive.
    monitor = Identity("monitor", fleet.fleet_dir / "things" / "monitor")
    with Subscriber("127.0.0.1", fleet.port, monitor, topic="sensor/#", client_id="monitor-watch-groups-test") as sub:
        out = fleet.make("up", *SIZE, timeout=600)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

        parsed = [0]

        def complete(payloads: list[bytes]) -> bool:
            for p in payloads[parsed[0]:]:
                doc = json.loads(p)
                seqs[doc["thing_name"]].add(doc["seq"])
            parsed[0] = len(payloads)
            return all(len(seqs[n]) >= c for n, c in expected.items())

        sub.wait_for(complete, 180)
        make_up_output = out.stdout
    missing = {n: c - len(seqs[n]) for n, c in expected.items() if seqs[n] != set(range(1, c + 1))}
    assert not missing, (f"{len(missing)} stations incomplete, e.g. {list(missing.items())[:5]}\n{make_up_output}"
                         f"\n{fleet.logs('group-1')[-3000:]}")
    assert fleet.running_services()[0] == "broker" and not any(
        s.startswith("station-") for s in fleet.running_services())
    ps = fleet.make("ps", *SIZE)
    assert ps.returncode == 0 and "group-1" in ps.stdout and "group-2" in ps.stdout
    # Both groups finish (every PUBACK in) and write one summary per station.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all("group-summary" in fleet.logs(g) for g in ("group-1", "group-2")):
        time.sleep(1)
    for g in ("group-1", "group-2"):
        logs = fleet.logs(g)
        assert "group-progress" in logs and "group-start" in logs
        assert logs.count(" summary ") == PER, logs[-2000:]
        assert "failed_stations=0" in logs.split("group-summary")[-1]
    down = fleet.make("down", *SIZE)
    assert down.returncode == 0, down.stderr
    assert fleet.containers() == [], "make down leaves no container"
