"""The Docker engine operations of the stack, through the `docker` CLI: swarm state, node labels, deploy,
remove, and the secrets/configs the stack created (found by the label com.weather-fleet.stack=<stack>).

Nothing here touches an object without that label (or the stack's namespace label Docker sets itself).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.swarm.errors import SwarmError
from deploy.swarm.stack import BROKER_NODE_LABEL, ROLE_LABEL, STACK_LABEL, STATION_NODE_LABEL

NAMESPACE_LABEL = "com.docker.stack.namespace"


def docker(*args: str, check: bool = True, timeout: float = 300, quiet: bool = False) -> str:
    """Run `docker <args>`; its stdout, or SwarmError with its stderr."""
    try:
        out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise SwarmError("the `docker` command is not installed (https://docs.docker.com/engine/install/)") from None
    except subprocess.TimeoutExpired:
        raise SwarmError(f"`docker {' '.join(args[:3])} ...` did not finish within {timeout:.0f} s") from None
    if check and out.returncode != 0:
        raise SwarmError(f"`docker {' '.join(args[:4])}` failed: {out.stderr.strip() or out.stdout.strip()}")
    if not quiet and out.returncode == 0 and out.stderr.strip() and args[0] == "stack":
        print(out.stderr.strip())
    return out.stdout


def run_all(commands: Sequence[Sequence[str]]) -> None:
    for cmd in commands:
        if cmd[0] != "docker":
            raise SwarmError(f"not a docker command: {cmd}")
        print("+ " + " ".join(cmd))
        docker(*cmd[1:], timeout=1800)


@dataclass(frozen=True)
class Node:
    id: str
    labels: dict[str, str]
    is_self: bool


def require_manager() -> str:
    """The local node's id; SwarmError unless this engine is a swarm manager."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}")
    parts = state.split()
    if len(parts) < 2 or parts[0] != "active":
        raise SwarmError("this Docker engine is not in a swarm: run `docker swarm init --advertise-addr <this "
                         "host's IP>` (docs/swarm.md), then `make swarm-up` again")
    if parts[1] != "true" or len(parts) < 3:
        raise SwarmError("this Docker engine is a swarm worker: run `make swarm-up` on a manager node")
    return parts[2]


def nodes(self_id: str) -> list[Node]:
    ids = docker("node", "ls", "-q").split()
    out = docker("node", "inspect", *ids, "--format", "{{.ID}} {{json .Spec.Labels}}")
    found = []
    for line in out.splitlines():
        node_id, _, labels = line.partition(" ")
        found.append(Node(node_id, json.loads(labels) or {}, node_id == self_id))
    return found


def has_label(nodes_: list[Node], label: str) -> bool:
    return any(n.labels.get(label) == "true" for n in nodes_)


def ensure_broker_node(nodes_: list[Node], self_id: str) -> None:
    """Label this node for the broker when no node is labelled yet (a new or single-node swarm)."""
    if not has_label(nodes_, BROKER_NODE_LABEL):
        print(f"no node has the label {BROKER_NODE_LABEL}=true: the broker goes to this node ({self_id[:12]})")
        docker("node", "update", "--label-add", f"{BROKER_NODE_LABEL}=true", self_id)


def stations_labelled(nodes_: list[Node]) -> bool:
    return has_label(nodes_, STATION_NODE_LABEL)


def deploy(stack_file: Path, stack: str, resolve_image: str) -> None:
    docker("stack", "deploy", "--detach=true", "--prune", "--resolve-image", resolve_image, "-c", str(stack_file),
           stack, timeout=900)


def _objects(kind: str, stack: str) -> list[str]:
    return docker(kind, "ls", "--filter", f"label={STACK_LABEL}={stack}", "--format", "{{.Name}}").split()


def stack_secrets(stack: str) -> list[str]:
    return _objects("secret", stack)


def stack_configs(stack: str) -> list[str]:
    return _objects("config", stack)


def prune_objects(stack: str, keep: set[str], attempts: int = 30) -> list[str]:
    """Remove the stack's secrets and configs not in `keep` (old versions after a rotation). A version still
    used by a task being replaced is retried for a while, then left for the next deploy."""
    removed: list[str] = []
    for kind in ("secret", "config"):
        first = [n for n in _objects(kind, stack) if n not in keep]
        stale = list(first)
        for _ in range(attempts):
            if not stale:
                break
            docker(kind, "rm", *stale, check=False)
            stale = [n for n in _objects(kind, stack) if n in stale]
            if stale:
                time.sleep(1)
        removed += [n for n in first if n not in stale]
    return removed


def services(stack: str) -> list[dict]:
    """`docker service inspect` of the stack's services."""
    ids = docker("service", "ls", "-q", "--filter", f"label={NAMESPACE_LABEL}={stack}").split()
    if not ids:
        return []
    return json.loads(docker("service", "inspect", *ids))


def stack_containers(stack: str) -> list[str]:
    return docker("ps", "-aq", "--filter", f"label={NAMESPACE_LABEL}={stack}").split()


def networks(stack: str) -> list[str]:
    return docker("network", "ls", "-q", "--filter", f"label={NAMESPACE_LABEL}={stack}").split()


def remove_stack(stack: str, timeout: float = 180) -> None:
    """`docker stack rm`, then wait for its containers and network to go, then remove what it left of ours."""
    if services(stack) or networks(stack):
        docker("stack", "rm", stack, check=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (services(stack) or stack_containers(stack)):
        time.sleep(1)
    while time.monotonic() < deadline and networks(stack):
        docker("network", "rm", *networks(stack), check=False)
        time.sleep(1)
    prune_objects(stack, keep=set())
    left = [*services(stack), *networks(stack), *stack_secrets(stack), *stack_configs(stack)]
    if left:
        raise SwarmError(f"stack {stack} not fully removed after {timeout:.0f} s; run `make swarm-down` again")


def role(service: dict) -> str:
    return service["Spec"].get("Labels", {}).get(ROLE_LABEL, "")


def replicas(service: dict) -> int | None:
    """The service's replica count, or None when it is not a replicated service (global mode)."""
    mode = service["Spec"].get("Mode", {})
    if "Replicated" not in mode:
        return None
    return int(mode["Replicated"].get("Replicas", 0))
