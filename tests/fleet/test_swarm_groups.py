"""Group containers on a single-node swarm: `make swarm-up` with 2 shards of 50 stations (STATIONS_PER_CONTAINER=50).

Each shard's service holds exactly its own things' identities. Known gap (docs/swarm.md): a monitor subscribed
through the loopback relay has been seen to hear none of the group stations under pytest although the groups
report every publish acknowledged; message delivery on Swarm is covered with single stations (test_swarm_fleet).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.swarm_support import SwarmFleet, service_inspect
from tests.fleet.swarm_support import short_data, swarm  # noqa: F401 - module fixtures

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

PER_SHARD, SHARDS = 50, 2


@pytest.fixture(scope="module")
def groups(swarm: bool, short_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    # LOOP: cycled copies start deep into the short files (start_offset) and would finish before the subscriber
    # is there; looping, every station keeps publishing with an increasing seq.
    f = SwarmFleet(tmp_path_factory.mktemp("swarm-groups"), short_data, PER_SHARD * SHARDS,
                   STATIONS_PER_CONTAINER=str(PER_SHARD), LOOP="true")
    try:
        up = f.make("swarm-up", timeout=900)
        assert up.returncode == 0, up.stdout + up.stderr
        assert len(sorted((f.fleet_dir / "shards").glob("shard-*.json"))) == SHARDS, up.stdout
        yield f
    finally:
        f.cleanup()


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
