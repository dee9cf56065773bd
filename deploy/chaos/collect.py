"""Copy the stations' state files out of a compose fleet, for `pipeline audit` (issue 20, `make audit`).

For every station or group service of the compose project, its STATE_DIR (`/state`, the `<service>-state`
volume) goes to `<into>/<service>/`: from the service's container (running or stopped: `docker cp`), or, when
`make down` removed the container but the volume is kept, through a container created (never started) on that
volume from `image`, removed after. Only the audit's files are kept: checkpoints, status and summary files
(`*.json`) and ground-truth logs (`*.faults.jsonl`); caches and anything else are skipped.

Invariants: `<into>/<service>/` is replaced as a whole (a fresh copy, never a mix of two runs), atomically by a
rename; other entries of `<into>` (e.g. the chaos runner's own `chaos/` ground truth) are left alone. Tar members
are extracted with tarfile's `data` filter (no links out, no absolute paths, no device files).
"""

from __future__ import annotations

import io
import re
import shutil
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from deploy.chaos.docker import PROJECT_LABEL, Docker
from deploy.chaos.errors import ChaosError, ConfigError
from deploy.chaos.plan import STATION_SERVICE

STATE_PATH = "/state"
KEPT_SUFFIXES = (".json", ".jsonl")
STATE_VOLUME = re.compile(r"[-_]((?:station|group)-\d+)-state$")


@dataclass(frozen=True)
class Collected:
    service: str
    files: int
    source: str  # "container" or "volume"


def _kept(member: tarfile.TarInfo) -> bool:
    parts = PurePosixPath(member.name).parts
    return member.isfile() and member.name.endswith(KEPT_SUFFIXES) and not any(p.startswith(".") for p in parts)


def extract_state(tar_bytes: bytes, target: Path) -> int:
    """The audit's files of a `docker cp <c>:/state -` stream (whose members start with `state/`) into `target`,
    replacing it; the number of files written."""
    target = Path(target)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if not _kept(member) or len(parts) < 2:
                    continue
                member.name = str(PurePosixPath(*parts[1:]))  # drop the leading `state/`
                tar.extract(member, staging, filter="data")
                count += 1
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return count


def _volumes(docker: Docker, project: str) -> dict[str, str]:
    """service -> state volume name, for the project's station and group state volumes."""
    names = docker.call("volume", "ls", "-q", "--filter", f"label={PROJECT_LABEL}={project}").decode().split()
    found = {}
    for name in names:
        match = STATE_VOLUME.search(name)
        if match:
            found[match.group(1)] = name
    return found


def collect_state(docker: Docker, project: str, into: Path, image: str | None = None) -> list[Collected]:
    """Copy every station/group service's state into `into/<service>/`; refused when the project has none."""
    into = Path(into)
    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the state folder {into}: {exc.strerror or exc}") from None
    containers = {c.service: c for c in docker.containers(project) if STATION_SERVICE.match(c.service)}
    volumes = {s: v for s, v in _volumes(docker, project).items() if s not in containers}
    if not containers and not volumes:
        raise ConfigError(f"compose project {project!r} has no station or group container or state volume: start "
                          "the fleet with `make up` (or set COMPOSE_PROJECT_NAME to the fleet's project)")
    collected = []
    for service, container in sorted(containers.items()):
        files = extract_state(docker.copy_out(container.id, STATE_PATH), into / service)
        collected.append(Collected(service, files, "container"))
    for service, volume in sorted(volumes.items()):
        if not image:
            raise ConfigError(f"{volume}: its container is gone; give an image to read it with (STATION_IMAGE)")
        cid = docker.call("container", "create", "--volume", f"{volume}:{STATE_PATH}:ro", image).decode().strip()
        try:
            files = extract_state(docker.copy_out(cid, STATE_PATH), into / service)
        finally:
            try:
                docker.call("rm", "--force", cid)
            except ChaosError:
                pass
        collected.append(Collected(service, files, "volume"))
    return collected
