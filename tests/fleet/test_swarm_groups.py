"""Group containers on a single-node swarm: `make swarm-up` with 2 shards of 50 stations (STATIONS_PER_CONTAINER=50).

The monitor, through the loopback relay, hears every one of the 100 stations with schema-valid messages and
increasing seq; each shard's service holds exactly its own things' identities; a DATA_DIR the stations' user may
not search is refused before anything is deployed.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.fleet.compose_fleet import REPO
from tests.fleet.swarm_support import SwarmFleet, service_inspect
from tests.fleet.swarm_support import short_data, swarm  # noqa: F401 - module fixtures

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

SCHEMA = json.loads((REPO / "contracts" / "weather-message.schema.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
PER_SHARD, SHARDS = 50, 2


@pytest.fixture(scope="module")
def groups(swarm: bool, short_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    # LOOP: cycled copies start deep into the short files (start_offset) and would finish before the subscriber
    # is there; looping, every station keeps publishing with an increasing seq.
    f = SwarmFleet(tmp_path_factory.mktemp("swarm-groups"), short_data, PER_SHARD * SHARDS,
                   STATIONS_PER_CONTAINER=str(PER_SHARD), LOOP="true")
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


def test_each_shard_service_holds_exactly_its_shards_identities(groups: SwarmFleet) -> None:
    services = {s["Spec"]["Name"]: s for s in service_inspect(groups.stack)}
    assert set(services) == {groups.service("broker"), *(groups.service(f"group-{n}") for n in (1, 2))}
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
