"""A single-node swarm for tests, left as found: initialised on 127.0.0.1 when the engine is not in a swarm (and
left again, `docker swarm leave --force`, whatever happens), used as it is when the engine already manages one.

Other helpers and CI's compose tests share the engine; compose keeps working while it is in swarm mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deploy.broker import answers, tls_context
from fleetcore.identity import default_client_id
from testbed.certs import Identity
from testbed.compose_fleet import REPO, STATION_KNOBS, free_port
from testbed.lab_files import short_lab_files
from testbed.mqtt import Subscriber

STATION_ENV = {"INTERVAL": "0.25", "PROGRESS_INTERVAL": "2", "LOG_FORMAT": "text", "LOOP": "false",
               "TOPIC": "sensor/weather", "CONNECT_TIMEOUT": "60"}


class SwarmFleet:
    """One stack of the fleet, driven through the Makefile like a user would."""

    def __init__(self, workdir: Path, data_dir: Path, count: int, **extra: str) -> None:
        self.fleet_dir = workdir / "fleet"
        self.data_dir = data_dir
        self.stack = f"wf-test-swarm-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        inherited = {k: v for k, v in os.environ.items() if k not in STATION_KNOBS and not k.startswith("STATION_")}
        uid = os.getuid()
        # Every station knob set (empty: the default), so a developer's .env cannot slip one in through make.
        self.env = {**inherited, **{k: "" for k in STATION_KNOBS}, **STATION_ENV,
                    "FLEET_DIR": str(self.fleet_dir), "DATA_DIR": str(data_dir), "FLEET_COUNT": str(count),
                    "PIPELINE": "", "REGISTRY": "", "STATIONS_PER_CONTAINER": "",
                    "SWARM_STACK": self.stack, "BROKER_PORT": str(self.port),
                    "STATION_IMAGE": os.environ.get("STATION_IMAGE_SWARM", "weather-fleet/station:swarm"),
                    # Built by `make swarm-images` from docker/broker (with the fleet_identity plugin): our own tag.
                    "MOSQUITTO_IMAGE": "weather-fleet/mosquitto:swarm",
                    "PIPELINE_IMAGE": "weather-fleet/pipeline:swarm", "LAKE_DIR": str(workdir / "lake"),
                    "BASE_IMAGE": os.environ.get("BASE_IMAGE", "local/python-base:ci"),
                    "FLEET_UID": str(uid if uid else 10001), "FLEET_GID": str(os.getgid() if uid else 10001),
                    **extra}

    def make(self, target: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        py = sys.executable
        return subprocess.run(["make", "--no-print-directory", "-o", ".env", "-o", py, f"PY={py}", target],
                              cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)

    def service(self, name: str) -> str:
        return f"{self.stack}_{name}"

    def identity(self, thing: str) -> Identity:
        return Identity(thing, self.fleet_dir / "things" / thing)

    def our_secrets(self) -> list[str]:
        return docker("secret", "ls", "--filter", f"label=com.weather-fleet.stack={self.stack}", "--format",
                      "{{.Name}}").split()

    def subscribe(self, timeout: float = 120) -> Subscriber:
        """The monitor identity subscribed to sensor/# through the relay (retried while the broker starts)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sub = Subscriber("127.0.0.1", self.port, self.identity("monitor"), topic="sensor/#",
                                 client_id=default_client_id("monitor"))
                return sub.__enter__()
            except Exception:  # noqa: BLE001 - the relay answers at once, the broker behind it may still start
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    @contextmanager
    def deployed(self, timeout: float = 900) -> Iterator[SwarmFleet]:
        """`make swarm-up` (which must succeed), then `cleanup()` whatever happens."""
        try:
            up = self.make("swarm-up", timeout=timeout)
            assert up.returncode == 0, up.stdout + up.stderr
            # It returns only once the broker answers (issue 19: `make swarm-up && make watch` failed while the
            # broker task started): one handshake, no retry, right away.
            assert answers("127.0.0.1", self.port, tls_context(self.fleet_dir)) is None, up.stdout
            assert "the broker answers (after" in up.stdout
            yield self
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        self.make("swarm-down", timeout=300)
        docker("rm", "-f", f"{self.stack}-broker-relay", check=False)
        for kind in ("service", "secret", "config", "network", "volume"):
            ids = docker(kind, "ls", "-q", "--filter", f"label=com.docker.stack.namespace={self.stack}",
                         check=False).split()
            if ids:
                docker(kind, "rm", *ids, check=False)


@pytest.fixture(scope="module")
def short_data(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return short_lab_files(data_dir, tmp_path_factory.mktemp("isd-short"))


@pytest.fixture(scope="module")
def swarm(docker_engine: None) -> Iterator[bool]:
    """A single-node swarm for the module (see single_node_swarm)."""
    with single_node_swarm() as created:
        yield created


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
