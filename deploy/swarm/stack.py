"""The fleet's Swarm stack file (`<fleet>/stack.yaml`), generated from the manifest and the station variables.

One service per single station (`station-<i>`, thing i of the manifest) or per shard (`group-<n>`, group
containers reading `.fleet/shards/shard-<n>.json`), the broker (target local) and, optionally, the lake writer.

Invariants (tested in tests/provisioning/test_swarm_stack.py):
- every station service has `deploy.replicas: 1`, so no two tasks ever hold one identity (scaling is done by
  registering more stations or shards and deploying again, never by `docker service scale`);
- a station service's secrets are exactly its own things' certificate and key, plus the CA certificate they
  trust; the CA private key (`<fleet>/ca/`) is never read into the stack;
- secret and config names end with the first 8 hex digits of their content's SHA-256, so a rotation
  (`register --force`) yields new names and a redeploy swaps them (Swarm secrets are immutable);
- the station environment comes from fleetcore.station_variables, like the compose files';
- with FAULTS, every station and group service gets the resolved scenario `make register` wrote
  (`deploy.faults`) as one config at the path its FAULTS names; without, no config and FAULTS empty.

The file is JSON (a subset of YAML: `docker stack deploy` reads it as is). Values are resolved here from the
environment (and `<fleet>/compose.env`), and every `$` is written `$$`, so `docker stack deploy` interpolates
nothing.

Over ~400 lines: every service of the stack (stations, groups, broker, lake writer) is built here against the
invariants above, which hold across services (one secret set per service, versioned names); image names and
the engine calls already live in their own modules (`images`, `engine`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetcore import shard as shard_contract
from fleetcore import station_variables
from fleetcore.errors import ConfigError
from fleetcore.identity import CA_FILE, CERTIFICATE_FILE, PRIVATE_KEY_FILE
from fleetcore.identity import ACL_FILE, BROKER_DIR, CA_DIR, HEALTH_TOPIC, SERVER_CERT_FILE, SERVER_KEY_FILE
from fleetcore.manifest import FleetManifest, Role, Thing
from fleetcore.target import Target
from deploy import data_access
from deploy.broker_config import broker_config_path
from deploy.compose_groups import CACHE_VOLUME as CACHE_VOLUME_NAME
from deploy.compose_groups import NOFILE as NOFILE_TEMPLATE
from deploy.faults import FAULTS_VARIABLE, faults_dir
from deploy.swarm.errors import SwarmError

STACK_FILE = "stack.yaml"
COMPOSE_VERSION = "3.8"
STACK_LABEL = "com.weather-fleet.stack"
ROLE_LABEL = "com.weather-fleet.role"
THINGS_LABEL = "com.weather-fleet.things"
BROKER_NODE_LABEL = "weather-fleet.broker"
STATION_NODE_LABEL = "weather-fleet.stations"
ZONE_NODE_LABEL = "weather-fleet.zone"
NETWORK = "fleet"
# The station image's user (docker/station/Dockerfile); secrets are handed to it.
STATION_UID = "10001"
SECRET_NAME_MAX = 64  # Docker's limit on secret and config names
SECRET_MODE = 0o400
PUBLIC_MODE = 0o444
# Group containers (issue 11): where a shard's container finds its shard file, identities, data, cache and state.
SHARD_FILE = station_variables.GROUP_FIXED["SHARD_FILE"]
IDENTITIES_DIR = station_variables.GROUP_FIXED["IDENTITIES_DIR"]
DATA_MOUNT = station_variables.GROUP_FIXED["DATA_DIR"]
STATE_MOUNT = station_variables.FIXED["STATE_DIR"]
# Group containers' decoded-message cache: one volume per node, shared by the groups running there.
CACHE_MOUNT = station_variables.GROUP_FIXED["CACHE_DIR"]
CACHE_VOLUME = CACHE_VOLUME_NAME
# Open files of the broker and of each group container: compose's `${FLEET_NOFILE:-20000}`.
NOFILE = NOFILE_TEMPLATE
IDENTITY_MOUNT = station_variables.FIXED["IDENTITY_DIR"]
_STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,30}$")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Images:
    """The image names the services run (already registry-qualified when a registry is used)."""

    station: str
    broker: str
    pipeline: str


@dataclass(frozen=True)
class ShardFile:
    """A shard file written by `make register STATIONS_PER_CONTAINER=K` (its config's source) and what it holds."""

    path: Path
    shard: shard_contract.Shard

    @property
    def number(self) -> int:
        return self.shard.shard

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.thing_name for t in self.shard.things)


@dataclass(frozen=True)
class LakeWriter:
    """The optional lake writer: where it writes (a folder on `node_id`) and as which user."""

    lake_dir: Path
    user: str
    node_id: str


@dataclass(frozen=True)
class StackRequest:
    """Everything the stack file depends on; `environment` is the process environment (it wins over
    `<fleet>/compose.env`)."""

    stack: str
    fleet_dir: Path
    data_dir: Path
    manifest: FleetManifest
    images: Images
    environment: Mapping[str, str] = field(default_factory=dict)
    shards: tuple[ShardFile, ...] | None = None
    stations_labelled: bool = False
    lake: LakeWriter | None = None


@dataclass(frozen=True)
class FileObject:
    """A Docker secret or config made from one file of the fleet folder."""

    name: str
    path: Path
    kind: str
    owner: str

    def spec(self, stack: str) -> dict[str, Any]:
        return {"name": self.name, "file": str(self.path),
                "labels": {STACK_LABEL: stack, "com.weather-fleet.owner": self.owner,
                           "com.weather-fleet.kind": self.kind}}


class _Objects:
    """The secrets and configs of one stack, named by content; refuses anything under the CA folder."""

    def __init__(self, stack: str, fleet_dir: Path) -> None:
        self.stack = stack
        self.forbidden = (Path(fleet_dir) / CA_DIR).resolve()
        self.secrets: dict[str, FileObject] = {}
        self.configs: dict[str, FileObject] = {}

    def _make(self, path: Path, owner: str, kind: str) -> FileObject:
        path = Path(path).resolve()
        if path == self.forbidden or self.forbidden in path.parents:
            raise SwarmError(f"{path} is in the CA folder {self.forbidden}: the CA's files never go into the stack")
        if not path.is_file():
            raise SwarmError(f"{path} is missing: run `make register` (it writes the fleet's identities)")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        return FileObject(versioned_name(self.stack, owner, kind, digest), path, kind, owner)

    def secret(self, path: Path, owner: str, kind: str) -> FileObject:
        obj = self._make(path, owner, kind)
        self.secrets[obj.name] = obj
        return obj

    def config(self, path: Path, owner: str, kind: str) -> FileObject:
        obj = self._make(path, owner, kind)
        self.configs[obj.name] = obj
        return obj


def versioned_name(stack: str, owner: str, kind: str, digest: str) -> str:
    """`<stack>-<owner>-<kind>-<sha8>`; SwarmError when longer than Docker's 64 characters."""
    name = f"{stack}-{owner}-{kind}-{digest}"
    if len(name) > SECRET_NAME_MAX:
        raise SwarmError(f"secret name {name!r} is longer than {SECRET_NAME_MAX} characters: use a shorter "
                         f"SWARM_STACK or FLEET_PREFIX")
    return name


def check_stack_name(stack: str) -> str:
    if not _STACK_NAME.match(stack):
        raise SwarmError(f"SWARM_STACK={stack!r} is not a valid stack name (lower-case letters, digits, - and _, "
                         f"at most 31 characters, starting with a letter or digit)")
    return stack


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a compose env file (comments and blank lines skipped); {} when absent."""
    if not Path(path).is_file():
        return {}
    out: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value
    return out


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Resolve compose's `${NAME}` and `${NAME:-default}` (an empty variable takes the default, as in compose)."""
    return _INTERPOLATION.sub(lambda m: variables.get(m[1]) or (m[2] or ""), value)


def station_environment(variables: Mapping[str, str], *, group: bool) -> dict[str, str]:
    """The shared environment of a station service, from the same templates as compose's
    (`compose_environment()`, or `group_compose_environment()` for a group container): fixed values resolved,
    passed-through ones (None) only when set (non-empty), so the station's defaults apply otherwise."""
    template = (station_variables.group_compose_environment() if group
                else station_variables.compose_environment())
    env: dict[str, str] = {}
    for name, value in template.items():
        if value is not None:
            env[name] = interpolate(value, variables)
        elif variables.get(name):
            env[name] = variables[name]
    return env


def nofile(variables: Mapping[str, str]) -> dict[str, Any]:
    """The `ulimits` of the broker and of group containers (FLEET_NOFILE, at most the daemon's own hard limit)."""
    value = interpolate(NOFILE, variables)
    if not value.isdigit():
        raise SwarmError(f"FLEET_NOFILE={value!r} is not a number of open files (for example FLEET_NOFILE=20000)")
    return {"nofile": {"soft": int(value), "hard": int(value)}}


def _secret_ref(obj: FileObject, target: str, mode: int, uid: str) -> dict[str, Any]:
    return {"source": obj.name, "target": target, "uid": uid, "gid": uid, "mode": mode}


def _identity_refs(objs: _Objects, fleet_dir: Path, thing: Thing, target_dir: str) -> list[dict[str, Any]]:
    """The thing's certificate and key (its own secrets) and the CA certificate it trusts, under target_dir."""
    folder = Path(fleet_dir) / thing.identity_dir
    cert = objs.secret(folder / CERTIFICATE_FILE, thing.thing_name, "cert")
    key = objs.secret(folder / PRIVATE_KEY_FILE, thing.thing_name, "key")
    refs = [_secret_ref(cert, f"{target_dir}/{CERTIFICATE_FILE}", PUBLIC_MODE, STATION_UID),
            _secret_ref(key, f"{target_dir}/{PRIVATE_KEY_FILE}", SECRET_MODE, STATION_UID)]
    if (folder / CA_FILE).is_file():  # AWS things may trust the system's roots instead
        ca = objs.secret(folder / CA_FILE, "fleet", "ca")
        refs.append(_secret_ref(ca, f"{target_dir}/{CA_FILE}", PUBLIC_MODE, STATION_UID))
    return refs


def _station_placement(labelled: bool) -> dict[str, Any]:
    """Spread over zones; only nodes labelled for stations when any is (else any node: a single-node swarm)."""
    placement: dict[str, Any] = {"preferences": [{"spread": f"node.labels.{ZONE_NODE_LABEL}"}]}
    if labelled:
        placement["constraints"] = [f"node.labels.{STATION_NODE_LABEL} == true"]
    return placement


def _station_base(req: StackRequest, things: list[str]) -> dict[str, Any]:
    """What every station service shares: compose.yaml's x-station, in Swarm's terms."""
    return {
        "image": req.images.station,
        "user": f"{STATION_UID}:{STATION_UID}",
        "read_only": True,
        "cap_drop": ["ALL"],
        "stop_grace_period": "30s",
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
        "networks": [NETWORK],
        "deploy": {
            "mode": "replicated",
            "replicas": 1,
            # A station that finished its file exits 0 and stays down; a failure is restarted (at most 3 times).
            "restart_policy": {"condition": "on-failure", "delay": "5s", "max_attempts": STATION_RESTARTS},
            # Never two tasks of one identity at once, not even during an update.
            "update_config": {"parallelism": 1, "order": "stop-first", "failure_action": "continue"},
            "placement": _station_placement(req.stations_labelled),
            "labels": {STACK_LABEL: req.stack, ROLE_LABEL: "station", THINGS_LABEL: ",".join(things)},
        },
    }


def _tmpfs() -> dict[str, Any]:
    return {"type": "tmpfs", "target": "/tmp"}


def single_station_service(req: StackRequest, objs: _Objects, index: int, thing: Thing,
                           variables: Mapping[str, str]) -> dict[str, Any]:
    """`station-<index>`: one thing, its ISD file mounted read-only, its identity as secrets at /identity."""
    if not thing.isd_file:
        raise SwarmError(f"station {thing.thing_name} of the manifest has no ISD file: run `make register` "
                         f"with DATA_DIR set")
    svc = _station_base(req, [thing.thing_name])
    svc["environment"] = {**station_environment(variables, group=False), "THING_NAME": thing.thing_name,
                          "DATA_FILE": f"{DATA_MOUNT}/{thing.isd_file}", "START_OFFSET": str(thing.start_offset)}
    svc["secrets"] = _identity_refs(objs, req.fleet_dir, thing, IDENTITY_MOUNT)
    svc["volumes"] = [
        {"type": "bind", "source": str(Path(req.data_dir).resolve() / thing.isd_file),
         "target": f"{DATA_MOUNT}/{thing.isd_file}", "read_only": True},
        {"type": "volume", "source": f"station-{index}-state", "target": STATE_MOUNT},
        _tmpfs(),
    ]
    return svc


def shard_service(req: StackRequest, objs: _Objects, shard: ShardFile, variables: Mapping[str, str]) -> dict[str, Any]:
    """`group-<n>` (as compose names it): shard n's group container; its shard file as a config, each of its
    things' identities as secrets."""
    svc = _station_base(req, list(shard.names))
    svc["environment"] = station_environment(variables, group=True)
    svc["ulimits"] = nofile(variables)
    refs: list[dict[str, Any]] = []
    for name in shard.names:
        refs += _identity_refs(objs, req.fleet_dir, req.manifest.thing(name), f"{IDENTITIES_DIR}/{name}")
    svc["secrets"] = refs
    conf = objs.config(shard.path, f"shard-{shard.number}", "things")
    svc["configs"] = [{"source": conf.name, "target": SHARD_FILE, "uid": STATION_UID, "gid": STATION_UID,
                       "mode": PUBLIC_MODE}]
    svc["volumes"] = [
        {"type": "bind", "source": str(Path(req.data_dir).resolve()), "target": DATA_MOUNT, "read_only": True},
        {"type": "volume", "source": f"group-{shard.number}-state", "target": STATE_MOUNT},
        {"type": "volume", "source": CACHE_VOLUME, "target": CACHE_MOUNT},
        _tmpfs(),
    ]
    return svc


# compose.yaml's broker (tests/provisioning/test_swarm_stack.py keeps them in step): Mosquitto starts as root and
# drops to its own user before reading certificates, so the files Swarm mounts at /run/fleet-broker are copied
# into a tmpfs and handed to that user first; root keeps only the capabilities this needs.
BROKER_ENTRYPOINT = [
    "/bin/sh", "-c",
    "mkdir -p /mosquitto/certs && chmod 0755 /mosquitto/certs && cp /run/fleet-broker/* /mosquitto/certs/ && "
    "chmod 0600 /mosquitto/certs/* && chown mosquitto:mosquitto /mosquitto/certs/* && "
    "chown -R mosquitto:mosquitto /mosquitto/data && exec \"$@\"",
    "broker",
]
BROKER_CAPABILITIES = ["CHOWN", "DAC_READ_SEARCH", "SETGID", "SETUID"]
# compose.yaml's `restart: on-failure:3`: a station that keeps failing (configuration, damaged file) stops after
# three restarts, its error in the logs (docs/failures.md).
STATION_RESTARTS = 3
BROKER_COMMAND = ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
BROKER_HEALTHCHECK = {
    "test": ["CMD", "mosquitto_sub", "-h", "localhost", "-p", "8883", "--cafile", "/mosquitto/certs/ca.pem",
             "--cert", "/mosquitto/certs/server.pem", "--key", "/mosquitto/certs/server.key", "-i", "healthcheck",
             "-t", HEALTH_TOPIC, "-C", "1", "-W", "5"],
    "interval": "5s", "timeout": "8s", "retries": 5, "start_period": "5s",
}


def broker_service(req: StackRequest, objs: _Objects, variables: Mapping[str, str]) -> dict[str, Any]:
    """The broker, pinned to the node labelled weather-fleet.broker=true, its data in a volume on that node."""
    broker = Path(req.fleet_dir) / BROKER_DIR
    key = objs.secret(broker / SERVER_KEY_FILE, "broker", "key")
    cert = objs.secret(broker / SERVER_CERT_FILE, "broker", "cert")
    ca = objs.secret(broker / CA_FILE, "fleet", "ca")
    acl = objs.config(broker / ACL_FILE, "broker", "acl")
    conf = objs.config(broker_config_path(req.fleet_dir), "broker", "conf")  # deploy.broker_config's, with the limits
    return {
        "image": req.images.broker,
        "entrypoint": BROKER_ENTRYPOINT,
        "command": BROKER_COMMAND,
        "networks": [NETWORK],
        "secrets": [_secret_ref(key, f"/run/fleet-broker/{SERVER_KEY_FILE}", SECRET_MODE, "0"),
                    _secret_ref(cert, f"/run/fleet-broker/{SERVER_CERT_FILE}", PUBLIC_MODE, "0"),
                    _secret_ref(ca, f"/run/fleet-broker/{CA_FILE}", PUBLIC_MODE, "0")],
        "configs": [{"source": acl.name, "target": f"/run/fleet-broker/{ACL_FILE}", "mode": PUBLIC_MODE},
                    {"source": conf.name, "target": "/mosquitto/config/mosquitto.conf", "mode": PUBLIC_MODE}],
        "volumes": [{"type": "volume", "source": "broker-data", "target": "/mosquitto/data"},
                    {"type": "tmpfs", "target": "/mosquitto/certs"}],
        "read_only": True,
        "cap_drop": ["ALL"],
        "cap_add": BROKER_CAPABILITIES,
        "healthcheck": BROKER_HEALTHCHECK,
        "ulimits": nofile(variables),
        "stop_grace_period": "10s",
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
        "deploy": {
            "mode": "replicated",
            "replicas": 1,
            # DNS round robin: stations reach the broker's task directly. Swarm's virtual IP (IPVS) is not needed
            # for one task, drops idle long-lived connections, and does not route on every host (it did not here).
            "endpoint_mode": "dnsrr",
            "restart_policy": {"condition": "any", "delay": "2s"},
            "update_config": {"order": "stop-first"},
            "placement": {"constraints": [f"node.labels.{BROKER_NODE_LABEL} == true"]},
            "labels": {STACK_LABEL: req.stack, ROLE_LABEL: "broker"},
        },
    }


def lake_service(req: StackRequest, objs: _Objects, lake: LakeWriter, variables: Mapping[str, str]) -> dict[str, Any]:
    """compose.pipeline.yaml's lake writer, on the node whose folder it writes (the one running swarm-up)."""
    monitor = next((t for t in req.manifest.things if t.role == Role.MONITOR), None)
    if monitor is None:
        raise SwarmError("the manifest has no monitor identity: run `make register`")
    refs = _identity_refs(objs, req.fleet_dir, monitor, "/identity")
    uid = lake.user.split(":")[0]
    for ref in refs:
        ref["uid"] = ref["gid"] = uid
    v = variables
    return {
        "image": req.images.pipeline,
        "command": ["--log-level", v.get("LOG_LEVEL") or "INFO", "lake"],
        "user": lake.user,
        "environment": {
            "MQTT_HOST": "broker", "MQTT_PORT": "8883", "TOPIC": v.get("TOPIC") or "sensor/weather",
            "MONITOR_IDENTITY_DIR": "/identity", "LAKE_DIR": "/lake",
            "LAKE_CLIENT_ID": v.get("LAKE_CLIENT_ID") or "monitor-lake",
            "LAKE_REQUIRE_PUBLISHER": v.get("LAKE_REQUIRE_PUBLISHER") or "true",
            "LAKE_BUFFER_BYTES": v.get("LAKE_BUFFER_BYTES") or "5242880",
            "LAKE_BUFFER_SECONDS": v.get("LAKE_BUFFER_SECONDS") or "60",
            "COLD_RULE_ENABLED": v.get("COLD_RULE_ENABLED") or "true",
            "LAKE_METRICS_PORT": v.get("LAKE_METRICS_PORT") or "9102",
        },
        "secrets": refs,
        "volumes": [{"type": "bind", "source": str(Path(lake.lake_dir).resolve()), "target": "/lake"}, _tmpfs()],
        "read_only": True,
        "cap_drop": ["ALL"],
        "networks": [NETWORK],
        "stop_grace_period": "60s",
        "logging": {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}},
        "deploy": {
            "mode": "replicated",
            "replicas": 1,
            "restart_policy": {"condition": "any", "delay": "5s"},
            "placement": {"constraints": [f"node.id == {lake.node_id}"]},
            "labels": {STACK_LABEL: req.stack, ROLE_LABEL: "lake"},
        },
    }


def faults_config(req: StackRequest, objs: _Objects, variables: Mapping[str, str]) -> dict[str, Any] | None:
    """The resolved fault scenario `make register` wrote (STATIONS_FAULTS, `deploy.faults`) as a config at the
    path the stations' FAULTS names; None without FAULTS."""
    inside = variables.get(FAULTS_VARIABLE) or ""
    if not inside:
        return None
    conf = objs.config(faults_dir(req.fleet_dir) / Path(inside).name, "fleet", "faults")
    return {"source": conf.name, "target": inside, "uid": STATION_UID, "gid": STATION_UID, "mode": PUBLIC_MODE}


def check_shards(manifest: FleetManifest, shards: tuple[ShardFile, ...]) -> None:
    """Every station of the manifest in exactly one shard, and nothing else: no identity runs twice."""
    seen: dict[str, int] = {}
    for shard in shards:
        for name in shard.names:
            if name in seen:
                raise SwarmError(f"{name} is in shard {seen[name]} and shard {shard.number}: run `make register` "
                                 f"again (it rewrites {shard.path.parent})")
            seen[name] = shard.number
    stations = {t.thing_name for t in manifest.stations()}
    if set(seen) != stations:
        missing, extra = sorted(stations - set(seen)), sorted(set(seen) - stations)
        raise SwarmError(f"the shard files do not match the manifest (missing {missing[:3]}, unknown {extra[:3]}): "
                         f"run `make register STATIONS_PER_CONTAINER=...` again")


def unreadable_data(req: StackRequest) -> list[str]:
    """The data files (and, for group containers, DATA_DIR itself) that this host holds but the stations' user
    could not read in their containers (deploy.data_access); [] when all is well."""
    uid = int(STATION_UID)
    return data_access.unreadable_for(req.data_dir, req.manifest.stations(), uid, uid,
                                      whole_folder=req.shards is not None)


def build_stack(req: StackRequest) -> dict[str, Any]:
    """The stack as a dict (before `$` escaping); see the module docstring for its invariants."""
    check_stack_name(req.stack)
    variables = {**read_env_file(Path(req.fleet_dir) / "compose.env"), **req.environment}
    objs = _Objects(req.stack, req.fleet_dir)
    local = req.manifest.target == Target.LOCAL
    services: dict[str, Any] = {}
    volumes: dict[str, Any] = {}
    if local:
        services["broker"] = broker_service(req, objs, variables)
        volumes["broker-data"] = {}
    if req.shards is None:
        for i, thing in enumerate(req.manifest.stations(), start=1):
            services[f"station-{i}"] = single_station_service(req, objs, i, thing, variables)
            volumes[f"station-{i}-state"] = {}
    else:
        check_shards(req.manifest, req.shards)
        variables = {**variables, "FLEET_GROUPS": str(len(req.shards))}
        volumes[CACHE_VOLUME] = {}
        for shard in req.shards:
            services[f"group-{shard.number}"] = shard_service(req, objs, shard, variables)
            volumes[f"group-{shard.number}-state"] = {}
    if scenario := faults_config(req, objs, variables):
        for name, svc in services.items():
            if name != "broker":
                svc["configs"] = [scenario, *svc.get("configs", [])]
    if req.lake is not None:
        if not local:
            raise SwarmError("the lake writer subscribes to the local broker: PIPELINE=1 needs TARGET=local")
        services["lake"] = lake_service(req, objs, req.lake, variables)
    doc: dict[str, Any] = {
        "version": COMPOSE_VERSION,
        "services": services,
        "networks": {NETWORK: {"driver": "overlay", "attachable": True, "labels": {STACK_LABEL: req.stack}}},
        "volumes": volumes,
        "secrets": {name: o.spec(req.stack) for name, o in sorted(objs.secrets.items())},
    }
    if objs.configs:
        doc["configs"] = {name: o.spec(req.stack) for name, o in sorted(objs.configs.items())}
    return doc


def _escape(value: Any) -> Any:
    """Every `$` doubled, recursively: `docker stack deploy` interpolates nothing of ours."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value


def render_stack(req: StackRequest) -> str:
    doc = _escape(build_stack(req))
    header = ["# Generated by `python -m provisioning stack` (make swarm-up) from manifest.json. Do not edit.",
              f"# Deploy: docker stack deploy -c <this file> {req.stack}. JSON is YAML. See docs/swarm.md."]
    return "\n".join(header) + "\n" + json.dumps(doc, indent=1) + "\n"


def secret_names(doc: Mapping[str, Any]) -> set[str]:
    """The secret and config names a built stack uses."""
    return {*doc.get("secrets", {}), *doc.get("configs", {})}


def load_shards(shards_dir: Path) -> tuple[ShardFile, ...]:
    """The shard files `shard-<n>.json` (contract: fleetcore.shard) in number order."""
    found: list[ShardFile] = []
    for path in sorted(Path(shards_dir).glob("shard-*.json")):
        try:
            found.append(ShardFile(path.resolve(), shard_contract.load(path)))
        except ConfigError as exc:
            raise SwarmError(f"{exc}") from None
    if not found:
        raise SwarmError(f"no shard files in {shards_dir}: run `make register STATIONS_PER_CONTAINER=K` first")
    return tuple(sorted(found, key=lambda s: s.number))
