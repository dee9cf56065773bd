"""`python -m deploy stack render|up|down|ps`: the fleet as a Docker Swarm stack (make swarm-up/-down/-ps).

`up` returns once the broker answers on 127.0.0.1:BROKER_PORT (through the relay), as `make up` does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from deploy import data_access
from deploy.broker import wait_for_broker
from deploy.broker_config import write_broker_config
from deploy.errors import ConfigError
from deploy.faults import check_deployed
from deploy.lake import lake_owner
from deploy.settings import DeploySettings, load
from deploy.swarm import engine, relay
from deploy.swarm.errors import SwarmError
from deploy.swarm.images import build_commands, plan_images
from deploy.swarm.stack import (STACK_FILE, STATION_NODE_LABEL, Images, LakeWriter, StackRequest, build_stack,
                                      check_stack_name, load_shards, read_env_file, render_stack, secret_names,
                                      unreadable_data)
from fleetcore import station_variables
from fleetcore.manifest import Role, load_manifest
from fleetcore.shard import SHARDS_DIR
from fleetcore.target import Target


def add_parser(sub: argparse._SubParsersAction, fleet_dir: Path, data_dir: Path) -> None:
    """The `stack` command and its sub-commands."""
    stack = sub.add_parser("stack", help="the fleet on Docker Swarm: render, up, down, ps (docs/swarm.md)")
    verbs = stack.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, text in (("images", "build the station and broker images (and the pipeline's with PIPELINE=1)"),
                       ("render", "write FLEET_DIR/stack.yaml (no engine needed)"),
                       ("up", "deploy (or update) the stack on this swarm manager"),
                       ("down", "remove the stack and exactly the secrets and configs it created"),
                       ("ps", "show the stack's services; exit 1 when a station service has replicas != 1")):
        p = verbs.add_parser(verb, help=text)
        p.add_argument("--stack", default=None, help="stack name (env SWARM_STACK, default weather-fleet)")
        p.add_argument("--fleet-dir", type=Path, default=fleet_dir)
        p.add_argument("--data-dir", type=Path, default=data_dir)
        if verb == "up":
            p.add_argument("--dry-run", action="store_true", help="write the stack file and print the commands, "
                           "run nothing")
        p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    s = load()
    stack = check_stack_name(args.stack or s.swarm_stack)
    return {"images": cmd_images, "render": cmd_render, "up": cmd_up, "down": cmd_down, "ps": cmd_ps}[args.verb](args, s, stack)


def _environment() -> dict[str, str]:
    """`.env` under the environment, as the station and the Makefile read them (station_variables.layered)."""
    return station_variables.layered(read_env_file(Path(".env")), os.environ)


def _request(args: argparse.Namespace, s: DeploySettings, stack: str, images: Images, *, labelled: bool,
             node_id: str | None) -> StackRequest:
    """The stack's inputs; writes the broker's mosquitto.conf (its limits: BrokerLimits) first, which the stack
    makes a config."""
    manifest = load_manifest(args.fleet_dir)
    check_deployed(args.fleet_dir, s.faults, [t.thing_name for t in manifest.stations()],
                   read_env_file(Path(args.fleet_dir) / "compose.env"))  # before anything is deployed
    write_broker_config(args.fleet_dir, s)
    shards = load_shards(Path(args.fleet_dir) / SHARDS_DIR) if s.stations_per_container > 1 else None
    lake = None
    if s.pipeline:
        uid, gid = lake_owner(s.lake_dir, Path(args.fleet_dir) / "things" / "monitor")
        lake = LakeWriter(s.lake_dir, f"{uid}:{gid}", node_id or "<this node's id>")
    return StackRequest(stack=stack, fleet_dir=Path(args.fleet_dir).resolve(), data_dir=Path(args.data_dir),
                        manifest=manifest, images=images, environment=_environment(), shards=shards,
                        stations_labelled=labelled, lake=lake)


def _local_images(s: DeploySettings) -> Images:
    return Images(station=s.station_image, broker=s.mosquitto_image, pipeline=s.pipeline_image)


def _write(req: StackRequest) -> Path:
    path = Path(req.fleet_dir) / STACK_FILE
    path.write_text(render_stack(req))
    return path


def cmd_images(args: argparse.Namespace, s: DeploySettings, stack: str) -> int:
    """Build the images from the repository (TARGET=aws: no broker)."""
    repo = Path(__file__).resolve().parents[2]
    for cmd in build_commands(_local_images(s), s.base_image, broker=s.target != Target.AWS, pipeline=s.pipeline):
        print("+ " + " ".join(cmd))
        if subprocess.run(cmd, cwd=repo).returncode != 0:
            raise SwarmError(f"`{' '.join(cmd[:2])} ... -t {cmd[cmd.index('-t') + 1]}` failed (its output is above)")
    return 0


def cmd_render(args: argparse.Namespace, s: DeploySettings, stack: str) -> int:
    plan = plan_images(_local_images(s), s.registry, broker=True, pipeline=s.pipeline)
    path = _write(_request(args, s, stack, plan.images, labelled=False, node_id=None))
    print(f"wrote {path}")
    return 0


def cmd_up(args: argparse.Namespace, s: DeploySettings, stack: str) -> int:
    local = load_manifest(args.fleet_dir).target == Target.LOCAL
    plan = plan_images(_local_images(s), s.registry, broker=local, pipeline=s.pipeline)
    if args.dry_run:
        req = _request(args, s, stack, plan.images, labelled=False, node_id=None)
        path = _write(req)
        for problem in unreadable_data(req):
            print(f"warning: {problem}")
        for cmd in plan.commands:
            print("would run: " + " ".join(cmd))
        print(f"would run: docker stack deploy --detach=true --prune --resolve-image {plan.resolve_image} "
              f"-c {path} {stack}")
        return 0
    self_id = engine.require_manager()
    nodes = engine.nodes(self_id)
    labelled = engine.stations_labelled(nodes)
    req = _request(args, s, stack, plan.images, labelled=labelled, node_id=self_id)
    _refuse_unreadable_data(req)
    if local:
        engine.ensure_broker_node(nodes, self_id)
    if not labelled:
        print(f"no node has the label {STATION_NODE_LABEL}=true: stations may run on any node")
    warning = unshared_image_warning(nodes, labelled, s.registry, plan.images.station)
    if warning:
        print(warning)
    engine.run_all(plan.commands)
    doc = build_stack(req)
    path = _write(req)
    print(f"deploying {path} as stack {stack}: {len(doc['services'])} services, {len(doc['secrets'])} secrets")
    engine.deploy(path, stack, plan.resolve_image)
    removed = engine.prune_objects(stack, keep=secret_names(doc))
    if removed:
        print(f"removed {len(removed)} secrets/configs no longer used: {', '.join(sorted(removed)[:5])}"
              f"{' ...' if len(removed) > 5 else ''}")
    if local:
        relay.start_relay(stack, s.broker_port, plan.images.station)
    if local and s.broker_wait_seconds > 0:
        print(f"waiting for the broker on 127.0.0.1:{s.broker_port} (at most {s.broker_wait_seconds:g} s)")
        waited = wait_for_broker(Path(args.fleet_dir), s.broker_port, s.broker_wait_seconds)
        print(f"the broker answers (after {waited:.0f} s)")
    print(f"stack {stack} deployed. `make swarm-ps` shows it, `make watch` prints messages, `make swarm-down` "
          f"removes it.")
    return 0


def unshared_image_warning(nodes: list[engine.Node], labelled: bool, registry: str | None,
                           image: str) -> str | None:
    """Without REGISTRY nothing is pulled (`--resolve-image never`): a station node other than this one runs
    stations only if it already holds `image`. Swarm rejects the tasks placed on a node without it ("No such
    image"), keeps placing their retries on that same node, and gives up after max_attempts: those stations never
    run (seen across nodes: docs/swarm.md "Tried across nodes")."""
    if registry:
        return None
    others = [n.id[:12] for n in nodes
              if not n.is_self and (not labelled or n.labels.get(STATION_NODE_LABEL) == "true")]
    if not others:
        return None
    return (f"warning: REGISTRY is unset and stations may run on {len(others)} other node(s) ({', '.join(others)}): "
            f"each must already hold {image} (`docker save {image} | docker -H <node> load`), else Swarm rejects "
            f"their tasks with 'No such image' and those stations never run. Set REGISTRY=host:port to push it "
            f"(docs/swarm.md).")


def _refuse_unreadable_data(req: StackRequest) -> None:
    """A stack whose stations cannot read their data would deploy fine and then fail task after task."""
    problems = unreadable_data(req)
    if problems:
        raise ConfigError(data_access.summary(problems) + f"\n(DATA_DIR={req.data_dir}; nothing was deployed: "
                         f"fix the modes and run `make swarm-up` again)")


def cmd_down(args: argparse.Namespace, s: DeploySettings, stack: str) -> int:
    relay.remove_relay(stack)
    engine.remove_stack(stack)
    print(f"stack {stack} removed (services, network, secrets, configs; volumes are kept)")
    return 0


def cmd_ps(args: argparse.Namespace, s: DeploySettings, stack: str) -> int:
    services = engine.services(stack)
    if not services:
        print(f"stack {stack} has no services (`make swarm-up` deploys it)")
        return 0
    tasks = _tasks(stack)
    bad: list[str] = []
    failing: list[str] = []
    print(f"{'SERVICE':<34} {'ROLE':<8} {'REPLICAS':>8} {'RUNNING':>7}  {'NODE':<16} {'LAST TASK':<50} THINGS")
    for svc in sorted(services, key=lambda x: x["Spec"]["Name"]):
        name, role, want = svc["Spec"]["Name"], engine.role(svc), engine.replicas(svc)
        things = svc["Spec"].get("Labels", {}).get("com.weather-fleet.things", "")
        seen = tasks.get(name, ServiceTasks())
        print(f"{name:<34} {role:<8} {want if want is not None else 'global':>8} {seen.running:>7}  "
              f"{','.join(sorted(seen.nodes)) or '-':<16} {seen.last[:50]:<50} {things[:60]}")
        if role == Role.STATION and want != 1:
            bad.append(name)
        if seen.last.startswith(("Failed", "Rejected")):
            failing.append(name)
    if failing:
        print(f"failing: {', '.join(failing[:10])}{' ...' if len(failing) > 10 else ''}: "
              f"`docker service logs {failing[0]}` says why")
    if bad:
        print(f"ERROR: station services with replicas != 1 (two tasks would share one identity): {', '.join(bad)}. "
              f"Scale by registering more stations and `make swarm-up`; it resets them to 1.")
        return 1
    return 0


@dataclass
class ServiceTasks:
    """What `docker stack ps` says of one service: tasks running (or starting), their nodes, and the newest
    task's state with its error (e.g. `Failed 3 seconds ago: task: non-zero exit (2)`)."""

    running: int = 0
    nodes: set[str] = field(default_factory=set)
    last: str = ""


def _tasks(stack: str) -> dict[str, ServiceTasks]:
    """Per service, from one `docker stack ps` (it lists each slot's newest task first)."""
    out = engine.docker("stack", "ps", stack, "--no-trunc", "--format",
                        "{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}", check=False)
    found: dict[str, ServiceTasks] = {}
    for line in out.splitlines():
        task, node, desired, state, error = (line.split("|", 4) + [""] * 5)[:5]
        service = task.rsplit(".", 1)[0]
        seen = found.get(service)
        if seen is None:
            error = error.strip().strip('"')
            seen = found[service] = ServiceTasks(last=f"{state}: {error}" if error else state)
        if desired == "Running" and state.startswith(("Running", "Starting")):
            seen.running += 1
            seen.nodes.add(node)
    return found

