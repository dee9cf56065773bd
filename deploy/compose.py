"""The fleet as a Docker Compose project: its command line, its environment, and which services run.

One compose project holds `compose.yaml` (broker, stations 1..5), `<fleet>/compose.stations.yaml` when
registration generated stations 6..N or group services, `<fleet>/compose.faults.yaml` when FAULTS is set (the
scenario's mount, `deploy.faults`), `compose.pipeline.yaml` (its `lake` service starts only
with `--profile pipeline`) and `compose.metrics.yaml` (Prometheus and the broker exporter, `--profile metrics`), so
`make up`, `make lake-up` and `make metrics-up` see one and the same broker and stations.

The environment compose interpolates is `.env` under the process environment with the pacing rule
(`fleetcore.station_variables.layered`: setting SPEEDUP or INTERVAL drops `.env`'s other one), plus the fleet's
folders made absolute and the user the containers run as.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.compose_stations import COMPOSE_YAML_STATIONS, stations_compose_path
from deploy.deployment import compose_env_path
from deploy.errors import DeployError
from deploy.faults import faults_compose_path
from deploy.settings import DeploySettings
from deploy.swarm.stack import read_env_file
from fleetcore import station_variables

REPO = Path(__file__).resolve().parent.parent
DOTENV = Path(".env")
# State volumes a fleet's stations and groups own (compose only removes the ones its files still declare).
STATION_VOLUME = re.compile(r"[-_](station-\d+-state|group-\d+-state|station-cache)$")


def compose_command(configured: str | None = None) -> list[str]:
    """COMPOSE when set, else `docker compose` when the v2 plugin answers, else `docker-compose` (1.29)."""
    if configured and configured.strip():
        return shlex.split(configured)
    try:
        if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0:
            return ["docker", "compose"]
    except (OSError, subprocess.TimeoutExpired):
        pass
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise DeployError("neither `docker compose` nor `docker-compose` is installed: install Docker Compose "
                      "(docs/troubleshooting.md), or set COMPOSE to the command")


def fleet_services(compose_env: Mapping[str, str]) -> list[str]:
    """The services the registered fleet runs: group-1..M in group mode (FLEET_GROUPS > 0), else station-1..N
    (FLEET_SIZE; compose.yaml's five before `make register`)."""
    groups = int(compose_env.get("FLEET_GROUPS") or 0)
    if groups:
        return [f"group-{i}" for i in range(1, groups + 1)]
    return [f"station-{i}" for i in range(1, int(compose_env.get("FLEET_SIZE") or COMPOSE_YAML_STATIONS) + 1)]


def unused_stations(compose_env: Mapping[str, str]) -> list[str]:
    """compose.yaml's station services the fleet does not run (FLEET_SIZE below five, or all five in group mode)."""
    used = 0 if int(compose_env.get("FLEET_GROUPS") or 0) else int(compose_env.get("FLEET_SIZE") or 5)
    return [f"station-{i}" for i in range(used + 1, COMPOSE_YAML_STATIONS + 1)]


def project_name(configured: str | None, directory: Path) -> str:
    """COMPOSE_PROJECT_NAME, else compose's default: the folder's name, lower case, [a-z0-9_-] only."""
    return configured or re.sub(r"[^a-z0-9_-]", "", directory.name.lower())


def station_volumes(names: Sequence[str]) -> list[str]:
    """The stations' and groups' state volumes (and the group cache) among a project's volume names."""
    return [n for n in names if STATION_VOLUME.search(n)]


def compose_environment(s: DeploySettings, dotenv: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """What compose runs with: `.env` under the environment (pacing rule included), the folders absolute, and
    FLEET_UID/FLEET_GID (yours, or 10001 as root)."""
    env = station_variables.layered(dotenv, environ)
    env.update(FLEET_DIR=str(s.fleet_dir.resolve()), DATA_DIR=str(s.data_dir.resolve()),
               FLEET_UID=str(s.fleet_uid), FLEET_GID=str(s.fleet_gid))
    return env


@dataclass
class ComposeProject:
    """The fleet's compose project, run from the repository (compose files and `.env` are read there)."""

    settings: DeploySettings
    cwd: Path = REPO

    @property
    def fleet_env(self) -> dict[str, str]:
        """compose.env's variables ({} before `make register`)."""
        return read_env_file(compose_env_path(self.settings.fleet_dir))

    def command(self) -> list[str]:
        fleet = self.settings.fleet_dir
        args = compose_command(self.settings.compose)
        if compose_env_path(fleet).is_file():
            args += ["--env-file", str(compose_env_path(fleet).resolve())]
        args += ["-f", str(self.cwd / "compose.yaml")]
        if stations_compose_path(fleet).is_file():
            args += ["-f", str(stations_compose_path(fleet).resolve())]
        if faults_compose_path(fleet).is_file():
            args += ["-f", str(faults_compose_path(fleet).resolve())]
        return [*args, "-f", str(self.cwd / "compose.pipeline.yaml"), "-f", str(self.cwd / "compose.metrics.yaml")]

    def environment(self, **extra: str) -> dict[str, str]:
        return {**compose_environment(self.settings, read_env_file(self.cwd / DOTENV), os.environ), **extra}

    def run(self, *args: str, capture: bool = False, check: bool = True,
            extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run compose with `args`; a failure is a DeployError naming the command (its own output shown)."""
        cmd = [*self.command(), *args]
        out = subprocess.run(cmd, cwd=self.cwd, env=self.environment(**(extra_env or {})), text=True,
                             capture_output=capture)
        if check and out.returncode != 0:
            detail = (out.stderr or "").strip().splitlines()[-1:] if capture else []
            raise DeployError(f"`{' '.join(cmd[:2])} {' '.join(args)}` failed (exit {out.returncode})"
                              + (f": {detail[0]}" if detail else ""))
        return out

    def container(self, service: str) -> str:
        """The id of `service`'s container, or "" when it has none."""
        return self.run("ps", "-q", service, capture=True, check=False).stdout.strip()
