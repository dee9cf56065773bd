"""A stand-in for the `docker` CLI: records every command line and answers from a small model of containers
(status, networks), so the chaos kit's exact calls can be asserted without an engine. The real engine is used by
tests/deploy/test_chaos_compose.py."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class FakeContainer:
    id: str
    service: str
    name: str
    status: str = "running"
    networks: dict[str, list[str]] = field(default_factory=lambda: {"p_default": ["svc"]})


class FakeDocker:
    def __init__(self, *containers: FakeContainer, fail: Sequence[str] = ()) -> None:
        self.containers = {c.id: c for c in containers}
        self.calls: list[list[str]] = []
        self.fail = set(fail)  # docker subcommands that fail (e.g. "pause")
        self.restart_policy_restarts = False

    def __call__(self, argv: Sequence[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        argv = list(argv)
        self.calls.append(argv)
        sub = argv[1]
        if sub in self.fail:
            return subprocess.CompletedProcess(argv, 1, b"", b"Error: it broke\n")
        out = b""
        if sub == "ps":
            out = "".join(f"{c.id}\t{c.service}\t{c.name}\n" for c in self.containers.values()).encode()
        elif sub == "inspect":
            c = self.containers[argv[-1]]
            out = (json.dumps({n: {"Aliases": a + [c.id[:12]]} for n, a in c.networks.items()})
                   if "Networks" in argv[3] else c.status).encode()
        elif sub == "pause":
            self.containers[argv[-1]].status = "paused"
        elif sub in ("unpause", "start", "restart"):
            self.containers[argv[-1]].status = "running"
        elif sub in ("kill", "stop"):
            self.containers[argv[-1]].status = "running" if self.restart_policy_restarts and sub == "kill" \
                else "exited"
        return subprocess.CompletedProcess(argv, 0, out, b"")

    def commands(self) -> list[str]:
        """The state-changing calls, as `sub args...` without the `docker` word (inspect/ps left out)."""
        return [" ".join(c[1:]) for c in self.calls if c[1] not in ("ps", "inspect")]
