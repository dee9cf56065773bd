"""Group containers on a single-node swarm: `make swarm-up` with 2 shards of 50 stations (STATIONS_PER_CONTAINER=50).

The monitor, through the loopback relay, hears every one of the 100 stations with schema-valid messages and
increasing seq; the stack's lake writer (PIPELINE=1) stores every station with the broker's publisher stamp; each
shard's service holds exactly its own things' identities; a DATA_DIR the stations' user may not search is refused
before anything is deployed.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from pipeline.lake import lake_files
from tests.support.compose_fleet import REPO
from tests.support.swarm_fleet import SwarmFleet, service_inspect
from tests.support.swarm_fleet import short_data, swarm  # noqa: F401 - module fixtures

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

SCHEMA = json.loads((REPO / "contracts" / "weather-message.schema.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
PER_SHARD, SHARDS = 50, 2


@pytest.fixture(scope="module")
def groups(swarm: bool, short_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    # LOOP: cycled copies start deep into the short files (start_offset) and would finish before the subscriber
    # is there; looping, every station keeps publishing with an increasing seq.
    # PIPELINE: the lake writer runs in the stack too, flushing every 2 s.
    f = SwarmFleet(tmp_path_factory.mktemp("swarm-groups"), short_data, PER_SHARD * SHARDS,
                   STATIONS_PER_CONTAINER=str(PER_SHARD), LOOP="true", PIPELINE="1", LAKE_BUFFER_SECONDS="2")
    with f.deployed():
        assert len(sorted((f.fleet_dir / "shards").glob("shard-*.json"))) == SHARDS
        yield f


def test_two_shards_of_fifty_deliver_every_station(groups: SwarmFleet) -> None:
    things = {f"weather-station-{i}" for i in range(1, PER_SHARD * SHARDS + 1)}
    sub = groups.subscribe()
    heard: set[str] = set()
    parsed = [0]

    def every_station(payloads: list[bytes]) -> bool:  # incremental: ~400 messages/s arrive under the lock
        for p in payloads[parsed[0]:]:
            heard.add(json.loads(p)["thing_name"])
        parsed[0] = len(payloads)
        return heard >= things

    try:
        assert sub.wait_for(every_station, timeout=240), f"missing {sorted(things - heard)[:5]}"
        assert sub.wait_for(lambda ps: len(ps) >= 3 * len(things), timeout=120)
        messages = sub.messages()
    finally:
        sub.__exit__(None, None, None)
    seen: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        errors = sorted(VALIDATOR.iter_errors(m), key=str)
        assert not errors, f"{m}: {errors[0].message}"
        seen[m["thing_name"]].append(m["seq"])
    for thing, seqs in seen.items():
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), thing


def test_the_lake_writer_in_the_stack_stores_every_station_stamped_by_the_broker(groups: SwarmFleet) -> None:
    things = {f"weather-station-{i}" for i in range(1, PER_SHARD * SHARDS + 1)}
    root = Path(groups.env["LAKE_DIR"]) / "sensor" / "weather"
    stored: dict[str, str | None] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and set(stored) < things:
        for path in lake_files(root):
            with gzip.open(path, "rt") as fh:
                for line in fh:
                    m = json.loads(line)
                    stored[m["thing_name"]] = m["publisher"]
        time.sleep(3)
    assert set(stored) == things, f"missing {sorted(things - set(stored))[:5]}"
    # The broker's plugin stamps the authenticated identity; the lake keeps it (docs/security.md).
    assert all(publisher == thing for thing, publisher in stored.items())


def test_each_shard_service_holds_exactly_its_shards_identities(groups: SwarmFleet) -> None:
    services = {s["Spec"]["Name"]: s for s in service_inspect(groups.stack)}
    assert set(services) == {groups.service("broker"), groups.service("lake"),
                             *(groups.service(f"group-{n}") for n in (1, 2))}
    for n in (1, 2):
        shard = json.loads((groups.fleet_dir / "shards" / f"shard-{n}.json").read_text())
        names = {t["thing_name"] for t in shard["things"]}
        assert len(names) == PER_SHARD
        spec = services[groups.service(f"group-{n}")]["Spec"]
        assert spec["Mode"]["Replicated"]["Replicas"] == 1
        secrets = spec["TaskTemplate"]["ContainerSpec"]["Secrets"]
        owners = {s["File"]["Name"].split("/")[2] for s in secrets}
        assert owners == names
        assert {s["SecretName"].removeprefix(f"{groups.stack}-").rsplit("-", 2)[0] for s in secrets} == \
            names | {"fleet"}


def test_a_data_dir_the_stations_may_not_search_is_refused_before_deploying(
        swarm: bool, short_data: Path, tmp_path: Path) -> None:
    private = tmp_path / "isd-private"
    shutil.copytree(short_data, private)
    private.chmod(0o700)  # as `mktemp -d` makes it: the stations' user 10001 may not open a file in it
    f = SwarmFleet(tmp_path, private, 4, STATIONS_PER_CONTAINER="2")
    try:
        up = f.make("swarm-up", timeout=600)
        assert up.returncode == 2, up.stdout + up.stderr
        assert f"{private.resolve()} (mode 0700" in up.stderr and f"`chmod o+rx {private.resolve()}`" in up.stderr
        assert "nothing was deployed" in up.stderr
        assert "warning: the station containers cannot read their data" in up.stderr  # register said so first
        assert service_inspect(f.stack) == [] and f.our_secrets() == []
    finally:
        f.cleanup()
