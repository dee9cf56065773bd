"""A single-node swarm for tests, left as found: initialised on 127.0.0.1 when the engine is not in a swarm (and
left again, `docker swarm leave --force`, whatever happens), used as it is when the engine already manages one.

Other helpers and CI's compose tests share the engine; compose keeps working while it is in swarm mode.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def swarm_state() -> tuple[str, bool]:
    state, manager = docker("info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}").split()
    return state, manager == "true"


@contextmanager
def single_node_swarm() -> Iterator[bool]:
    """Yields whether this context created the swarm (and will leave it)."""
    state, manager = swarm_state()
    if state == "active" and not manager:
        raise RuntimeError("this engine is a swarm worker: the swarm tests need a manager (or no swarm)")
    if state not in ("active", "inactive"):
        raise RuntimeError(f"the engine's swarm is {state}: fix it (docker swarm leave --force) and run again")
    created = state == "inactive"
    if created:
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield created
    finally:
        if created:
            docker("swarm", "leave", "--force", check=False, timeout=180)


def service_inspect(stack: str) -> list[dict]:
    ids = docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").split()
    return json.loads(docker("service", "inspect", *ids)) if ids else []


def tasks(service: str) -> list[dict[str, str]]:
    """Every task of `service`: {id, state, desired, error, exit}."""
    ids = docker("service", "ps", "-q", service).split()
    if not ids:
        return []
    out = []
    for t in json.loads(docker("inspect", *ids)):
        status = t.get("Status", {})
        out.append({"id": t["ID"], "state": status.get("State", ""), "desired": t.get("DesiredState", ""),
                    "error": status.get("Err", ""),
                    "exit": str(status.get("ContainerStatus", {}).get("ExitCode", "")),
                    "container": status.get("ContainerStatus", {}).get("ContainerID", "")})
    return out
