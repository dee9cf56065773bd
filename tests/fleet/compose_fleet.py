"""Run the real compose fleet for tests: registered identities, the broker and five stations, torn down always.

Uses the same command line as the Makefile (`--env-file <fleet>/compose.env -f compose.yaml`) with a distinct
project name, a temporary FLEET_DIR and a free loopback port, so it never touches a developer's own fleet.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    """`docker compose` when the v2 plugin answers, else Debian's `docker-compose` 1.29."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ComposeFleet:
    """One compose project of the fleet in a temporary folder."""

    def __init__(self, workdir: Path, data_dir: Path, **station_env: str) -> None:
        self.fleet_dir = Path(workdir) / "fleet"
        self.data_dir = Path(data_dir)
        self.project = f"wf-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        uid = os.getuid()
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": self.project,
            "FLEET_DIR": str(self.fleet_dir),
            "DATA_DIR": str(self.data_dir),
            "BROKER_PORT": str(self.port),
            # The station containers run as the identity files' owner (never root; see the Makefile).
            "FLEET_UID": str(uid if uid else 10001),
            "FLEET_GID": str(os.getgid() if uid else 10001),
            **station_env,
        }
        self.base = [*compose_command(), "--env-file", str(self.fleet_dir / "compose.env"), "-f",
                     str(REPO / "compose.yaml")]

    def register(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "provisioning", "register", "--fleet-dir", str(self.fleet_dir),
                               "--data-dir", str(self.data_dir)], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=120, check=True)

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def container_id(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()

    def logs(self, service: str) -> str:
        cid = self.container_id(service)
        out = subprocess.run(["docker", "logs", cid], capture_output=True, text=True, timeout=30)
        return out.stdout + out.stderr

    def containers(self, all_states: bool = True) -> list[str]:
        args = ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={self.project}"]
        out = subprocess.run(args + (["-a"] if all_states else []), capture_output=True, text=True, timeout=30)
        return out.stdout.split()

    def health(self, service: str) -> str:
        cid = self.container_id(service)
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", cid], capture_output=True,
                             text=True, timeout=30)
        return out.stdout.strip()

    def wait_healthy(self, service: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.health(service) == "healthy":
                return
            time.sleep(1)
        raise TimeoutError(f"{service} not healthy after {timeout} s:\n{self.logs(service)}")

    def make(self, target: str) -> subprocess.CompletedProcess[str]:
        """Run a Makefile target against this project (the environment wins over .env)."""
        return subprocess.run(["make", "--no-print-directory", target], cwd=REPO, env=self.env, capture_output=True,
                              text=True, timeout=300)

    def teardown(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False, timeout=180)
