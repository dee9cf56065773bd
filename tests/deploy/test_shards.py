"""The deployment in group mode (shards, per-shard identity folders, group services) and distinct data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from deploy.deployment import write_deployment
from fleetcore.manifest import FleetManifest, Thing, load_manifest
from fleetcore.shard import load
from fleetcore.station_variables import group_compose_environment
from tests.station.group.support import write_isd
from tests.support.fleets import Registered, register_fleet


def data(tmp_path: Path, files: int = 2, records: int = 40) -> Path:
    folder = tmp_path / "isd"
    folder.mkdir(exist_ok=True)
    for i in range(files):
        write_isd(folder / f"72312{i}-14886-2022", list(range(0, records * 10, 10)), usaf=f"72312{i}")
    return folder


def register(tmp_path: Path, isd: Path, count: int, per: int, **kw: object) -> Registered:
    return register_fleet(tmp_path / "fleet", isd, count, per, **kw)


def test_shards_identities_and_group_services(tmp_path: Path) -> None:
    isd = data(tmp_path)
    out = register(tmp_path, isd, 12, 5)
    fleet = tmp_path / "fleet"
    assert out.groups == 3
    shards = [load(fleet / "shards" / f"shard-{n}.json") for n in (1, 2, 3)]
    assert [len(s.things) for s in shards] == [5, 5, 2]
    assert [t.thing_name for s in shards for t in s.things] == [f"weather-station-{i}" for i in range(1, 13)]
    for s in shards:
        ids = fleet / "shards" / str(s.shard) / "identities"
        assert sorted(p.name for p in ids.iterdir()) == sorted(t.thing_name for t in s.things)
        for t in s.things:
            for f in ("certificate.pem", "private.key", "ca.pem"):
                assert os.path.samefile(ids / t.thing_name / f, fleet / "things" / t.thing_name / f)
            assert not (ids / t.thing_name / "ca.key").exists()
            assert "/" not in t.data_file and (isd / t.data_file).is_file()
    assert not list((fleet / "shards").rglob("ca.key"))
    doc = yaml.safe_load((fleet / "compose.stations.yaml").read_text())
    assert sorted(doc["services"]) == ["group-1", "group-2", "group-3"]
    g2 = doc["services"]["group-2"]
    assert g2["environment"] == group_compose_environment()
    assert g2["environment"]["SHARD_FILE"] == "/shard/shard.json" and "IDENTITY_DIR" not in g2["environment"]
    binds = {v["target"]: v for v in g2["volumes"] if isinstance(v, dict)}
    assert binds["/identities"]["source"].endswith("/shards/2/identities") and binds["/identities"]["read_only"]
    assert binds["/shard/shard.json"]["source"].endswith("/shards/shard-2.json")
    assert "station-cache:/cache" in g2["volumes"] and "group-2-state:/state" in g2["volumes"]
    assert "FLEET_GROUPS=3" in (fleet / "compose.env").read_text()
    again = register(tmp_path, isd, 12, 5)
    assert not again.written and not again.removed, "a re-run changes nothing"


def test_force_relinks_and_shrinking_removes_stale_shards(tmp_path: Path) -> None:
    isd = data(tmp_path)
    register(tmp_path, isd, 12, 5)
    fleet = tmp_path / "fleet"
    register(tmp_path, isd, 12, 5, force=True)  # new keys: new inodes
    assert os.path.samefile(fleet / "shards/3/identities/weather-station-12/private.key",
                            fleet / "things/weather-station-12/private.key")
    register(tmp_path, isd, 7, 5)
    assert sorted(p.name for p in (fleet / "shards").iterdir()) == ["1", "2", "shard-1.json", "shard-2.json"]
    assert sorted(p.name for p in (fleet / "shards/2/identities").iterdir()) == ["weather-station-6",
                                                                                 "weather-station-7"]
    register(tmp_path, isd, 7, 1)
    assert not (fleet / "shards").exists()
    doc = yaml.safe_load((fleet / "compose.stations.yaml").read_text())
    assert sorted(doc["services"]) == ["station-6", "station-7"]
    assert doc["services"]["station-6"]["environment"]["START_OFFSET"] != "0"  # a cycled copy


def test_cycled_files_start_at_different_records(tmp_path: Path) -> None:
    isd = data(tmp_path, files=2, records=40)
    out = register(tmp_path, isd, 8, 4)
    stations = load_manifest(tmp_path / "fleet").stations()
    by_file: dict[str, list[int]] = {}
    for t in stations:
        by_file.setdefault(t.isd_file or "", []).append(t.start_offset)
    assert sorted(by_file.values()) == [[0, 10, 20, 30], [0, 10, 20, 30]]
    assert out.cycling is not None and "8 stations share 2 ISD files" in out.cycling
    shard_offsets = [t.start_offset for n in (1, 2) for t in load(tmp_path / "fleet/shards" / f"shard-{n}.json").things]
    assert shard_offsets == [t.start_offset for t in stations]


def test_no_note_and_no_offset_when_every_station_has_its_own_file(tmp_path: Path) -> None:
    isd = data(tmp_path, files=3)
    out = register(tmp_path, isd, 3, 1)
    assert out.cycling is None
    assert [t.start_offset for t in load_manifest(tmp_path / "fleet").stations()] == [0, 0, 0]
    env = (tmp_path / "fleet" / "compose.env").read_text()
    assert "STATION_2_OFFSET=0" in env and json.loads((tmp_path / "fleet/manifest.json").read_text())


def test_aws_fleet_gets_the_same_shards_and_groups(tmp_path: Path) -> None:
    """The one writer serves an AWS manifest too: same shards and groups, stations pointed at its endpoint."""
    things = [Thing(thing_name=f"w-{i}", station_id="030910-99999", isd_file="030910-99999-2022.gz",
                    identity_dir=f"things/w-{i}", certificate_sha256="0" * 64) for i in range(1, 10)]
    manifest = FleetManifest(target="aws", endpoint="abc-ats.iot.eu-west-1.amazonaws.com", prefix="w", things=things)
    fleet = tmp_path / "aws"
    for t in things:
        (fleet / t.identity_dir).mkdir(parents=True)
        for f in ("certificate.pem", "private.key"):
            (fleet / t.identity_dir / f).write_text("x")
    write_deployment(fleet, Path("data"), manifest, 4)
    doc = yaml.safe_load((fleet / "compose.stations.yaml").read_text())
    assert sorted(doc["services"]) == ["group-1", "group-2", "group-3"]
    assert "FLEET_GROUPS=3" in (fleet / "compose.env").read_text()
    assert "STATIONS_MQTT_HOST=abc-ats.iot.eu-west-1.amazonaws.com\n" in (fleet / "compose.env").read_text()
    assert [t.thing_name for t in load(fleet / "shards" / "shard-3.json").things] == ["w-9"]
    assert os.path.samefile(fleet / "shards/3/identities/w-9/private.key", fleet / "things/w-9/private.key")
    write_deployment(fleet, Path("data"), manifest, 1)
    assert not (fleet / "shards").exists()
    assert "FLEET_GROUPS=0" in (fleet / "compose.env").read_text()
