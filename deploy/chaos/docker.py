"""The Docker CLI calls the chaos kit makes, each bounded by a timeout.

Containers of a compose project are found by the labels Compose puts on them (`com.docker.compose.project`,
`com.docker.compose.service`), as the Makefile's `make clean` finds its volumes: Compose v2 and 1.29 alike, and no
compose file or env file is needed. Every call goes through one `run` function, so tests can see the exact
command lines.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from deploy.chaos.errors import ChaosError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
TIMEOUT_S = 60.0

Runner = Callable[[Sequence[str], float], "subprocess.CompletedProcess[bytes]"]


def _run(argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    # Its own session: a Ctrl-C meant for the chaos run must not interrupt the `docker` call that restores.
    return subprocess.run(list(argv), capture_output=True, timeout=timeout, check=False, start_new_session=True)


@dataclass(frozen=True)
class Container:
    id: str
    service: str
    name: str


class Docker:
    """The engine `docker` talks to (DOCKER_HOST and the rest of the CLI's own environment apply)."""

    def __init__(self, run: Runner = _run, timeout: float = TIMEOUT_S) -> None:
        self._run = run
        self.timeout = timeout

    def call(self, *args: str, timeout: float | None = None) -> bytes:
        argv = ["docker", *args]
        try:
            out = self._run(argv, timeout or self.timeout)
        except subprocess.TimeoutExpired:
            raise ChaosError(f"`{' '.join(argv)}` did not answer within {timeout or self.timeout:g} s") from None
        except OSError as exc:
            raise ChaosError(f"cannot run docker ({exc.strerror or exc}): is the Docker CLI installed?") from None
        if out.returncode != 0:
            detail = (out.stderr or b"").decode(errors="replace").strip().splitlines()
            raise ChaosError(f"`{' '.join(argv)}` failed: {detail[-1] if detail else f'exit {out.returncode}'}")
        return out.stdout or b""

    def containers(self, project: str) -> list[Container]:
        """Every container of the compose project (stopped ones too), in service order."""
        text = self.call("ps", "-a", "--filter", f"label={PROJECT_LABEL}={project}", "--format",
                         '{{.ID}}\t{{.Label "' + SERVICE_LABEL + '"}}\t{{.Names}}').decode()
        found = [Container(*line.split("\t", 2)) for line in text.splitlines() if line.count("\t") == 2]
        return sorted(found, key=lambda c: (c.service, c.name))

    def status(self, container: str) -> str:
        """created, running, paused, restarting, exited or dead."""
        return self.call("inspect", "-f", "{{.State.Status}}", container).decode().strip()

    def networks(self, container: str) -> dict[str, list[str]]:
        """network name -> the container's aliases on it (what a reconnect must give back: compose's service name
        is how the others find it, e.g. `broker`)."""
        raw = json.loads(self.call("inspect", "-f", "{{json .NetworkSettings.Networks}}", container) or b"{}")
        return {name: [a for a in (cfg or {}).get("Aliases") or [] if not container.startswith(a)]
                for name, cfg in (raw or {}).items()}

    def pause(self, container: str) -> None:
        self.call("pause", container)

    def unpause(self, container: str) -> None:
        self.call("unpause", container)

    def kill(self, container: str, signal: str = "KILL") -> None:
        self.call("kill", "--signal", signal, container)

    def stop(self, container: str, grace_s: int = 10) -> None:
        self.call("stop", "--time", str(grace_s), container, timeout=grace_s + self.timeout)

    def start(self, container: str) -> None:
        self.call("start", container)

    def restart(self, container: str, grace_s: int = 10) -> None:
        self.call("restart", "--time", str(grace_s), container, timeout=grace_s + self.timeout)

    def disconnect(self, network: str, container: str) -> None:
        self.call("network", "disconnect", "--force", network, container)

    def connect(self, network: str, container: str, aliases: Sequence[str]) -> None:
        self.call("network", "connect", *(f"--alias={a}" for a in aliases), network, container)

    def copy_out(self, container: str, path: str) -> bytes:
        """`path` of the container (running or not) as a tar stream."""
        return self.call("cp", f"{container}:{path}", "-", timeout=10 * self.timeout)
