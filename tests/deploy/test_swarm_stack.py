"""The Swarm stack generator, without an engine: secrets per service, versioned names, replicas, placement,
TARGET=aws, shards, the CA key, the station environment, and registry image names."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleetcore import station_variables
from fleetcore.shard import Shard, ShardThing
from fleetcore.manifest import FleetManifest, Thing, load_manifest, save_manifest
from provisioning.register_local import LocalFleetRequest, register_local
from stationdata.stations import LAB_STATION_FILES
from deploy.broker_config import write_broker_config
from deploy.settings import BrokerLimits
from deploy.swarm.errors import SwarmError
from deploy.swarm.images import plan_images, registry_name
from deploy.swarm.stack import (Images, LakeWriter, ShardFile, StackRequest, build_stack, load_shards,
                                      render_stack)
from tests.support.standins import stand_in_lab_files

REPO = Path(__file__).resolve().parents[2]
IMAGES = Images(station="weather-fleet/station:swarm", broker="local/mosquitto:ci",
                pipeline="weather-fleet/pipeline:swarm")


@pytest.fixture()
def isd_dir(tmp_path: Path) -> Path:
    return stand_in_lab_files(tmp_path / "isd")


@pytest.fixture()
def fleet(tmp_path: Path, isd_dir: Path) -> Path:
    fleet_dir = tmp_path / "fleet"
    register_local(LocalFleetRequest(fleet_dir=fleet_dir, data_dir=isd_dir, count=4))
    write_broker_config(fleet_dir, BrokerLimits())  # what `make swarm-up` writes before the stack
    return fleet_dir


def request(fleet: Path, isd_dir: Path, **kw: Any) -> StackRequest:
    return StackRequest(**{"stack": "wf", "fleet_dir": fleet, "data_dir": isd_dir, "manifest": load_manifest(fleet),
                           "images": IMAGES, "environment": {}, **kw})


def station_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in doc["services"].items() if s["deploy"]["labels"]["com.weather-fleet.role"] == "station"}


def sha8(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def test_each_station_service_has_exactly_its_own_identity(fleet: Path, isd_dir: Path) -> None:
    doc = build_stack(request(fleet, isd_dir))
    stations = station_services(doc)
    assert sorted(stations) == [f"station-{i}" for i in range(1, 5)]
    ca_name = f"wf-fleet-ca-{sha8(fleet / 'things' / 'weather-station-1' / 'ca.pem')}"
    for i, (name, svc) in enumerate(sorted(stations.items()), start=1):
        thing = f"weather-station-{i}"
        folder = fleet / "things" / thing
        refs = {r["target"]: r for r in svc["secrets"]}
        assert set(refs) == {"/identity/certificate.pem", "/identity/private.key", "/identity/ca.pem"}
        assert refs["/identity/certificate.pem"]["source"] == f"wf-{thing}-cert-{sha8(folder / 'certificate.pem')}"
        assert refs["/identity/private.key"]["source"] == f"wf-{thing}-key-{sha8(folder / 'private.key')}"
        assert refs["/identity/ca.pem"]["source"] == ca_name
        assert refs["/identity/private.key"]["mode"] == 0o400 and refs["/identity/certificate.pem"]["mode"] == 0o444
        assert {r["uid"] for r in refs.values()} == {"10001"} and svc["user"] == "10001:10001"
        assert svc["environment"]["THING_NAME"] == thing
        # The secret's file is the thing's own file.
        key_secret = doc["secrets"][refs["/identity/private.key"]["source"]]
        assert key_secret["file"] == str((folder / "private.key").resolve())
        others = [r["source"] for s in stations.values() if s is not svc for r in s["secrets"]]
        assert not {refs["/identity/private.key"]["source"], refs["/identity/certificate.pem"]["source"]} & set(others)


def test_no_secret_or_config_is_the_ca_key(fleet: Path, isd_dir: Path) -> None:
    doc = build_stack(request(fleet, isd_dir))
    ca_dir = (fleet / "ca").resolve()
    files = [Path(o["file"]) for o in [*doc["secrets"].values(), *doc.get("configs", {}).values()]]
    assert files and not [f for f in files if ca_dir in f.parents]
    assert sha8(fleet / "ca" / "ca.key") not in json.dumps(doc)


def test_a_thing_pointing_into_the_ca_folder_is_refused(fleet: Path, isd_dir: Path) -> None:
    manifest = load_manifest(fleet)
    manifest.things[0].identity_dir = "ca"
    (fleet / "ca" / "certificate.pem").write_text("x")
    (fleet / "ca" / "private.key").write_text("x")
    with pytest.raises(SwarmError, match="CA folder"):
        build_stack(request(fleet, isd_dir, manifest=manifest))


def test_versioned_names_change_with_the_content_only(fleet: Path, isd_dir: Path) -> None:
    before = build_stack(request(fleet, isd_dir))
    assert build_stack(request(fleet, isd_dir)) == before  # deterministic: an unchanged fleet redeploys nothing
    register_local(LocalFleetRequest(fleet_dir=fleet, data_dir=isd_dir, count=4, force=True))  # rotation
    after = build_stack(request(fleet, isd_dir))
    old = {r["target"]: r["source"] for r in before["services"]["station-2"]["secrets"]}
    new = {r["target"]: r["source"] for r in after["services"]["station-2"]["secrets"]}
    assert old["/identity/private.key"] != new["/identity/private.key"]
    assert old["/identity/certificate.pem"] != new["/identity/certificate.pem"]
    assert old["/identity/ca.pem"] == new["/identity/ca.pem"]  # the CA is kept by a rotation
    assert new["/identity/private.key"].startswith("wf-weather-station-2-key-")
    assert new["/identity/private.key"] in after["secrets"] and old["/identity/private.key"] not in after["secrets"]


def test_the_broker_config_is_the_fleet_folders_mosquitto_conf_with_its_limits(fleet: Path, isd_dir: Path) -> None:
    """BROKER_MAX_PUBLISHES_PER_SECOND reaches the Swarm broker: its mosquitto.conf config is the file `make
    swarm-up` writes, named by its content, so a changed limit is a new config (and a broker update)."""
    def conf(doc: dict[str, Any]) -> dict[str, Any]:
        ref = next(c for c in doc["services"]["broker"]["configs"] if c["target"] == "/mosquitto/config/mosquitto.conf")
        return doc["configs"][ref["source"]]

    before = conf(build_stack(request(fleet, isd_dir)))
    assert before["file"] == str((fleet / "mosquitto.conf").resolve())
    assert write_broker_config(fleet, BrokerLimits(BROKER_MAX_PUBLISHES_PER_SECOND=20)) is True
    after = conf(build_stack(request(fleet, isd_dir)))
    assert after["name"] != before["name"]
    lines = Path(after["file"]).read_text().splitlines()
    assert "plugin_opt_max_publishes_per_second 20" in lines and "max_packet_size 131072" in lines


def test_every_station_service_runs_one_replica_restarted_on_failure_only(fleet: Path, isd_dir: Path) -> None:
    doc = build_stack(request(fleet, isd_dir))
    for svc in station_services(doc).values():
        assert svc["deploy"]["mode"] == "replicated" and svc["deploy"]["replicas"] == 1
        assert svc["deploy"]["restart_policy"]["condition"] == "on-failure"
        assert svc["deploy"]["update_config"]["order"] == "stop-first"
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
    assert doc["services"]["broker"]["deploy"]["restart_policy"]["condition"] == "any"
    assert doc["services"]["broker"]["healthcheck"]["test"][:2] == ["CMD", "mosquitto_sub"]


def test_placement(fleet: Path, isd_dir: Path) -> None:
    unlabelled = build_stack(request(fleet, isd_dir))
    labelled = build_stack(request(fleet, isd_dir, stations_labelled=True))
    broker = labelled["services"]["broker"]
    assert broker["deploy"]["placement"]["constraints"] == ["node.labels.weather-fleet.broker == true"]
    assert {"type": "volume", "source": "broker-data", "target": "/mosquitto/data"} in broker["volumes"]
    assert "broker-data" in labelled["volumes"]
    for svc in station_services(labelled).values():
        assert svc["deploy"]["placement"]["constraints"] == ["node.labels.weather-fleet.stations == true"]
        assert svc["deploy"]["placement"]["preferences"] == [{"spread": "node.labels.weather-fleet.zone"}]
    for svc in station_services(unlabelled).values():  # a swarm without station labels: any node
        assert "constraints" not in svc["deploy"]["placement"]


def test_target_aws_deploys_stations_only(tmp_path: Path, isd_dir: Path) -> None:
    fleet = tmp_path / "aws-fleet"
    things = []
    for i in (1, 2):
        folder = fleet / "things" / f"weather-station-{i}"
        folder.mkdir(parents=True)
        (folder / "certificate.pem").write_text(f"cert {i}")
        (folder / "private.key").write_text(f"key {i}")
        (folder / "ca.pem").write_text("amazon root ca")
        things.append(Thing(thing_name=f"weather-station-{i}", isd_file=f"{LAB_STATION_FILES[i]}.gz",
                            identity_dir=f"things/weather-station-{i}", certificate_sha256="0" * 64))
    manifest = FleetManifest(target="aws", endpoint="abc-ats.iot.eu-west-1.amazonaws.com", prefix="weather-station",
                             things=things)
    save_manifest(fleet, manifest)
    (fleet / "compose.env").write_text("STATIONS_MQTT_HOST=abc-ats.iot.eu-west-1.amazonaws.com\n")
    doc = build_stack(request(fleet, isd_dir, environment={"TARGET": "aws"}))
    assert sorted(doc["services"]) == ["station-1", "station-2"]
    assert "configs" not in doc and "broker-data" not in doc["volumes"]
    env = doc["services"]["station-1"]["environment"]
    assert env["TARGET"] == "aws" and env["MQTT_HOST"] == "abc-ats.iot.eu-west-1.amazonaws.com"
    with pytest.raises(SwarmError, match="PIPELINE=1 needs TARGET=local"):
        build_stack(request(fleet, isd_dir, lake=LakeWriter(tmp_path / "lake", "1000:1000", "node1")))


def test_station_environment_comes_from_the_station_variables(fleet: Path, isd_dir: Path) -> None:
    env_in = {"SPEEDUP": "7200", "LOOP": "", "STATIONS_MQTT_PORT": "8884", "UNRELATED": "x"}
    doc = build_stack(request(fleet, isd_dir, environment=env_in))
    env = doc["services"]["station-3"]["environment"]
    assert set(env) == {*station_variables.FIXED, *station_variables.PER_STATION, "SPEEDUP"}
    assert env["SPEEDUP"] == "7200"  # passed through when set; LOOP (empty) and the rest are left to defaults
    assert env["MQTT_PORT"] == "8884" and env["MQTT_HOST"] == "broker" and env["TARGET"] == "local"
    assert env["IDENTITY_DIR"] == "/identity" and env["STATE_DIR"] == "/state"
    thing = load_manifest(fleet).stations()[2]
    assert env["DATA_FILE"] == f"/data/{thing.isd_file}" and env["START_OFFSET"] == str(thing.start_offset)
    data = doc["services"]["station-3"]["volumes"][0]
    assert data == {"type": "bind", "source": str((isd_dir / thing.isd_file).resolve()),
                    "target": f"/data/{thing.isd_file}", "read_only": True}


def test_rendered_file_is_yaml_with_every_dollar_escaped(fleet: Path, isd_dir: Path) -> None:
    text = render_stack(request(fleet, isd_dir, environment={"TOPIC": "sensor/$weird"}))
    doc = yaml.safe_load(text)
    assert doc["version"] == "3.8"
    assert "$$SYS/broker/uptime" in doc["services"]["broker"]["healthcheck"]["test"]
    assert doc["services"]["station-1"]["environment"]["TOPIC"] == "sensor/$$weird"
    assert 'exec "$$@"' in doc["services"]["broker"]["entrypoint"][2]


def test_every_secret_and_config_is_labelled_with_the_stack(fleet: Path, isd_dir: Path) -> None:
    doc = build_stack(request(fleet, isd_dir, lake=LakeWriter(fleet.parent / "lake", "1000:1000", "node1")))
    objects = {**doc["secrets"], **doc["configs"]}
    assert objects and all(o["labels"]["com.weather-fleet.stack"] == "wf" and o["name"] == n
                           for n, o in objects.items())
    used = {r["source"] for s in doc["services"].values() for r in [*s.get("secrets", []), *s.get("configs", [])]}
    assert used == set(objects)  # nothing declared that no service uses
    lake = doc["services"]["lake"]
    assert lake["deploy"]["placement"]["constraints"] == ["node.id == node1"]
    assert {r["source"].split("-")[1] for r in lake["secrets"]} == {"monitor", "fleet"}


def write_shards(fleet: Path, groups: list[list[str]]) -> Path:
    folder = fleet / "shards"
    folder.mkdir()
    for n, names in enumerate(groups, start=1):
        (folder / f"shard-{n}.json").write_text(json.dumps({"version": 1, "shard": n, "things": [
            {"thing_name": t, "data_file": "x.gz", "start_offset": 0} for t in names]}))
    return folder


def test_one_service_per_shard_with_its_things_identities(fleet: Path, isd_dir: Path) -> None:
    folder = write_shards(fleet, [["weather-station-1", "weather-station-2"],
                                  ["weather-station-3", "weather-station-4"]])
    doc = build_stack(request(fleet, isd_dir, shards=load_shards(folder)))
    assert sorted(station_services(doc)) == ["group-1", "group-2"]
    shard = doc["services"]["group-2"]
    assert shard["deploy"]["replicas"] == 1
    assert shard["deploy"]["labels"]["com.weather-fleet.things"] == "weather-station-3,weather-station-4"
    targets = {r["target"] for r in shard["secrets"]}
    assert targets == {f"/identities/weather-station-{i}/{f}" for i in (3, 4)
                       for f in ("certificate.pem", "private.key", "ca.pem")}
    owners = {r["source"].removeprefix("wf-").rsplit("-", 2)[0] for r in shard["secrets"]}
    assert owners == {"weather-station-3", "weather-station-4", "fleet"}
    assert shard["configs"][0]["target"] == "/shard/shard.json"
    assert doc["configs"][shard["configs"][0]["source"]]["file"] == str((folder / "shard-2.json").resolve())
    env = shard["environment"]
    assert env["SHARD_FILE"] == "/shard/shard.json" and "THING_NAME" not in env and "IDENTITY_DIR" not in env
    assert {"type": "bind", "source": str(isd_dir.resolve()), "target": "/data", "read_only": True} in shard["volumes"]
    assert {"type": "volume", "source": "station-cache", "target": "/cache"} in shard["volumes"]
    assert env["CACHE_DIR"] == "/cache" and "station-cache" in doc["volumes"]
    assert set(env) == {k for k, v in station_variables.group_compose_environment().items() if v is not None}
    assert env["FLEET_GROUPS"] == "2"
    assert shard["ulimits"] == {"nofile": {"soft": 20000, "hard": 20000}}


def test_a_thing_in_two_shards_or_in_none_is_refused(fleet: Path, isd_dir: Path) -> None:
    twice = write_shards(fleet, [["weather-station-1", "weather-station-2"],
                                 ["weather-station-2", "weather-station-3", "weather-station-4"]])
    with pytest.raises(SwarmError, match="weather-station-2 is in shard 1 and shard 2"):
        build_stack(request(fleet, isd_dir, shards=load_shards(twice)))
    missing = (ShardFile(twice / "shard-1.json", Shard(1, (ShardThing("weather-station-1", "x.gz"),
                                                           ShardThing("weather-station-2", "x.gz")))),)
    with pytest.raises(SwarmError, match="do not match the manifest"):
        build_stack(request(fleet, isd_dir, shards=missing))


def test_registry_image_names_and_push_commands() -> None:
    assert registry_name("registry.lan:5000", "weather-fleet/station:swarm") == \
        "registry.lan:5000/weather-fleet/station:swarm"
    assert registry_name("registry.lan:5000", "old.host:5000/weather-fleet/station:swarm") == \
        "registry.lan:5000/weather-fleet/station:swarm"
    plan = plan_images(IMAGES, "127.0.0.1:5000", broker=True, pipeline=False)
    assert plan.images.station == "127.0.0.1:5000/weather-fleet/station:swarm"
    assert plan.images.broker == "127.0.0.1:5000/local/mosquitto:ci"
    assert plan.commands == (
        ("docker", "tag", "weather-fleet/station:swarm", "127.0.0.1:5000/weather-fleet/station:swarm"),
        ("docker", "push", "127.0.0.1:5000/weather-fleet/station:swarm"),
        ("docker", "tag", "local/mosquitto:ci", "127.0.0.1:5000/local/mosquitto:ci"),
        ("docker", "push", "127.0.0.1:5000/local/mosquitto:ci"))
    assert plan.resolve_image == "always"
    local = plan_images(IMAGES, None, broker=True, pipeline=True)
    assert local.images == IMAGES and local.commands == () and local.resolve_image == "never"
    with pytest.raises(SwarmError, match="REGISTRY"):
        registry_name("not a registry", "a:b")


def test_stack_up_dry_run_with_registry(fleet: Path, isd_dir: Path, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "REGISTRY": "registry.lan:5000", "STATION_IMAGE": IMAGES.station,
           "MOSQUITTO_IMAGE": IMAGES.broker, "SWARM_STACK": "wf-dry"}
    out = subprocess.run([sys.executable, "-m", "deploy", "stack", "up", "--dry-run", "--fleet-dir", str(fleet),
                          "--data-dir", str(isd_dir)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "would run: docker push registry.lan:5000/weather-fleet/station:swarm" in out.stdout
    assert "would run: docker push registry.lan:5000/local/mosquitto:ci" in out.stdout
    assert "--resolve-image always" in out.stdout
    doc = yaml.safe_load((fleet / "stack.yaml").read_text())
    assert doc["services"]["station-1"]["image"] == "registry.lan:5000/weather-fleet/station:swarm"
    assert doc["services"]["broker"]["image"] == "registry.lan:5000/local/mosquitto:ci"
    bad = subprocess.run([sys.executable, "-m", "deploy", "stack", "up", "--dry-run", "--stack", "Bad Name",
                          "--fleet-dir", str(fleet)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "SWARM_STACK='Bad Name' is not a valid stack name" in bad.stderr


def test_broker_and_stations_keep_in_step_with_compose_yaml(fleet: Path, isd_dir: Path) -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    doc = yaml.safe_load(render_stack(request(fleet, isd_dir)))  # as docker reads both: `$$` in each
    broker, ours = compose["services"]["broker"], doc["services"]["broker"]
    assert ours["entrypoint"][:2] == broker["entrypoint"][:2] and ours["entrypoint"][3] == broker["entrypoint"][3]
    assert ours["entrypoint"][2] == broker["entrypoint"][2]
    assert ours["command"] == broker["command"] and ours["healthcheck"] == broker["healthcheck"]
    assert broker["ulimits"]["nofile"]["soft"] == "$${FLEET_NOFILE:-20000}".replace("$$", "$")
    assert ours["ulimits"] == {"nofile": {"soft": 20000, "hard": 20000}}
    with_nofile = build_stack(request(fleet, isd_dir, environment={"FLEET_NOFILE": "4096"}))
    assert with_nofile["services"]["broker"]["ulimits"]["nofile"]["hard"] == 4096
    assert ours["read_only"] is broker["read_only"] is True
    assert ours["cap_drop"] == broker["cap_drop"] and sorted(ours["cap_add"]) == sorted(broker["cap_add"])
    assert {"type": "tmpfs", "target": "/mosquitto/certs"} in ours["volumes"]
    assert broker["tmpfs"] == ["/mosquitto/certs"]
    station = compose["services"]["station-1"]
    restarts = int(station["restart"].split(":")[1]) if ":" in station["restart"] else 0
    assert doc["services"]["station-1"]["deploy"]["restart_policy"]["max_attempts"] == restarts
    assert set(doc["services"]["station-1"]["environment"]) <= \
        {*compose["x-station-env"], *station_variables.PER_STATION}


def test_lake_writer_keeps_in_step_with_compose_pipeline_yaml(fleet: Path, isd_dir: Path) -> None:
    """The stack's lake writer is compose.pipeline.yaml's, interpolated the same way (defaults, then variables)."""
    from deploy.swarm.stack import interpolate

    compose = yaml.safe_load((REPO / "compose.pipeline.yaml").read_text())["services"]["lake"]
    for variables in ({}, {"TOPIC": "fleet/x", "LAKE_BUFFER_SECONDS": "2", "LOG_LEVEL": "DEBUG",
                           "LAKE_REQUIRE_PUBLISHER": "false"}):
        lake = build_stack(request(fleet, isd_dir, environment=variables,
                                   lake=LakeWriter(fleet.parent / "lake", "1000:1000", "node1")))["services"]["lake"]
        assert lake["environment"] == {k: interpolate(str(v), variables) for k, v in compose["environment"].items()}
        assert lake["command"] == [interpolate(c, variables) for c in compose["command"]]
        assert lake["read_only"] is compose["read_only"] is True and lake["cap_drop"] == compose["cap_drop"]
        assert lake["stop_grace_period"] == compose["stop_grace_period"]
