"""Several Docker "hosts" on one machine: one dockerd per network namespace, joined in a swarm (root only).

Layout (every name carries a per-run tag, so two runs never meet, and everything is removed by `close()`):
- a switch namespace `<tag>-sw` holding a bridge, so no packet between the hosts touches the root namespace's
  iptables (the main engine's FORWARD policy is DROP, and bridge-nf-call-iptables is on there);
- per host `<tag>-<x>`: a veth `eth0` on that bridge with 198.18.0.1<n>/24 (RFC 2544's benchmarking range,
  nothing else on the machine uses it), and a dockerd with its own --data-root, --exec-root, --pidfile,
  unix socket /run/<tag>-<x>.sock, cgroup parent /<tag>-<x>, and its own managed containerd. dockerd runs under
  `nsenter --net` + `unshare --mount --uts` (`ip netns exec` would remount /sys and hide the cgroup mounts dockerd
  needs: "Devices cgroup isn't mounted"), so its mounts die with it and `docker node ls` shows `<tag>-<x>`.

Nothing here touches the main engine except `docker save` of the images to copy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SUBNET = "198.18.0"
ADDR_POOL = "10.231.0.0/16"  # the swarm's overlay networks: only inside the hosts' containers
CGROUP_ROOT = Path("/sys/fs/cgroup")


class LabError(RuntimeError):
    """A step of building the hosts failed; the message names the command and its error."""


def run(*cmd: str, check: bool = True, timeout: float = 120, stdin: int | None = None) -> str:
    out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, stdin=stdin)
    if check and out.returncode != 0:
        raise LabError(f"`{' '.join(cmd)}` failed ({out.returncode}): {(out.stderr or out.stdout).strip()}")
    return out.stdout


@dataclass
class Host:
    """One dockerd in its own network namespace."""

    letter: str
    tag: str
    index: int
    base: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.tag}-{self.letter}"

    @property
    def ip(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def sock(self) -> str:
        return f"/run/{self.name}.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def root(self) -> Path:
        return self.base / self.letter

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        return run("docker", "-H", self.docker_host, *args, check=check, timeout=timeout)

    def netns_cmd(self, *cmd: str) -> list[str]:
        """`cmd` run in this host's network namespace (same files, same mounts)."""
        return ["nsenter", f"--net=/run/netns/{self.name}", *cmd]

    def eth0_bytes(self) -> tuple[int, int]:
        """(received, sent) bytes on the host's wire."""
        stats = json.loads(run("ip", "-n", self.name, "-s", "-j", "link", "show", "eth0"))[0]["stats64"]
        return int(stats["rx"]["bytes"]), int(stats["tx"]["bytes"])


@dataclass
class NetnsSwarm:
    """`count` hosts (a = manager, b, c... = workers). Use as a context manager; `close()` is idempotent."""

    count: int
    base: Path
    tag: str = field(default_factory=lambda: f"wfn{os.getpid() % 100000}")
    hosts: list[Host] = field(default_factory=list)
    _made_ns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.hosts = [Host(chr(ord("a") + i), self.tag, i + 1, self.base) for i in range(self.count)]

    @property
    def manager(self) -> Host:
        return self.hosts[0]

    @property
    def workers(self) -> list[Host]:
        return self.hosts[1:]

    @property
    def switch(self) -> str:
        return f"{self.tag}-sw"

    # --- building -------------------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Stop early, with the exact reason, where this machine cannot do it."""
        if os.geteuid() != 0:
            raise LabError("network namespaces and extra dockerds need root")
        for tool in ("ip", "nsenter", "unshare", "dockerd", "docker"):
            if not shutil.which(tool):
                raise LabError(f"`{tool}` is not installed")

    def _netns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self._made_ns.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def wire(self) -> None:
        self._netns(self.switch)
        run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.switch, "link", "set", "br0", "up")
        # Overlay networks are VXLAN (udp/4789): without the vxlan driver no cross-node traffic is possible.
        run("ip", "-n", self.switch, "link", "add", "vxprobe", "type", "vxlan", "id", "42", "dstport", "4789",
            "dev", "br0")
        run("ip", "-n", self.switch, "link", "del", "vxprobe")
        for h in self.hosts:
            self._netns(h.name)
            outer, inner = f"{h.name}-0", f"{h.name}-1"
            run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            run("ip", "link", "set", outer, "netns", h.name)
            run("ip", "link", "set", inner, "netns", self.switch)
            run("ip", "-n", self.switch, "link", "set", inner, "master", "br0", "up")
            run("ip", "-n", h.name, "link", "set", outer, "name", "eth0")
            run("ip", "-n", h.name, "addr", "add", f"{h.ip}/24", "dev", "eth0")
            run("ip", "-n", h.name, "link", "set", "eth0", "up")

    def start_engines(self, timeout: float = 90) -> None:
        config = self.base / "daemon.json"
        config.write_text("{}\n")  # not the machine's /etc/docker/daemon.json
        for h in self.hosts:
            (h.root / "data").mkdir(parents=True, exist_ok=True)
            (h.root / "exec").mkdir(parents=True, exist_ok=True)
            dockerd = ["dockerd", "--config-file", str(config), "--data-root", str(h.root / "data"),
                       "--exec-root", str(h.root / "exec"), "--pidfile", str(h.root / "docker.pid"),
                       "-H", h.docker_host, "--cgroup-parent", f"/{h.name}", "--storage-driver", "overlay2"]
            cmd = h.netns_cmd("unshare", "--mount", "--uts", "--propagation", "slave", "sh", "-c",
                              f'hostname {h.name} && exec "$@"', "sh", *dockerd)
            log = open(h.root / "dockerd.log", "wb")  # noqa: SIM115 - kept open for the daemon's lifetime
            h.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
        deadline = time.monotonic() + timeout
        for h in self.hosts:
            while h.docker("info", "--format", "{{.ServerVersion}}", check=False).strip() == "":
                if h.proc is not None and h.proc.poll() is not None:
                    raise LabError(f"dockerd of {h.name} exited ({h.proc.returncode}): {self.log_tail(h)}")
                if time.monotonic() > deadline:
                    raise LabError(f"dockerd of {h.name} did not answer on {h.sock} within {timeout:.0f} s: "
                                   f"{self.log_tail(h)}")
                time.sleep(0.5)

    def log_tail(self, h: Host, lines: int = 5) -> str:
        try:
            text = (h.root / "dockerd.log").read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:])

    def load_images(self, images: list[str], hosts: list[Host]) -> None:
        """`docker save` from the main engine (the caller's DOCKER_HOST) | `docker load` into each host."""
        for h in hosts:
            save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
            try:
                out = subprocess.run(["docker", "-H", h.docker_host, "load", "-q"], stdin=save.stdout,
                                     capture_output=True, text=True, timeout=600)
            finally:
                if save.stdout:
                    save.stdout.close()
                save.wait(timeout=600)
            if out.returncode != 0 or save.returncode != 0:
                raise LabError(f"docker save {' '.join(images)} | docker -H {h.docker_host} load: "
                               f"{out.stderr.strip()}")

    def form_swarm(self) -> None:
        self.manager.docker("swarm", "init", "--advertise-addr", self.manager.ip, "--default-addr-pool", ADDR_POOL)
        token = self.manager.docker("swarm", "join-token", "-q", "worker").strip()
        for h in self.workers:
            h.docker("swarm", "join", "--advertise-addr", h.ip, "--token", token, f"{self.manager.ip}:2377",
                     timeout=120)

    def node_ids(self) -> dict[str, str]:
        """host name -> swarm node id."""
        return {h.name: h.docker("info", "--format", "{{.Swarm.NodeID}}").strip() for h in self.hosts}

    # --- tearing down ----------------------------------------------------------------------------------------
    def close(self) -> list[str]:
        """Leave the swarm, stop the engines, remove namespaces, cgroups, sockets and folders; what failed."""
        problems: list[str] = []
        for h in [*self.workers, self.manager]:
            if h.proc is not None and h.proc.poll() is None:
                h.docker("swarm", "leave", "--force", check=False, timeout=60)
        for h in self.hosts:
            self._stop(h, problems)
        for h in self.hosts:
            self._kill_leftovers(h, problems)
            self._unmount_under(h.root, problems)
            self._remove_cgroups(f"{h.name}", problems)
            Path(h.sock).unlink(missing_ok=True)
        for ns in reversed(self._made_ns):
            try:
                run("ip", "netns", "del", ns, timeout=30)
            except LabError as exc:
                problems.append(str(exc))
        self._made_ns.clear()
        left = [ns for ns in run("ip", "netns", "list", check=False).split() if ns.startswith(f"{self.tag}-")]
        if left:
            problems.append(f"namespaces left: {left}")
        shutil.rmtree(self.base, ignore_errors=True)
        if self.base.exists():
            problems.append(f"{self.base} not removed")
        return problems

    @staticmethod
    def _stop(h: Host, problems: list[str]) -> None:
        if h.proc is None or h.proc.poll() is not None:
            return
        h.proc.send_signal(signal.SIGTERM)
        try:
            h.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            problems.append(f"dockerd of {h.name} ignored SIGTERM for 60 s: killed")
            h.proc.kill()
            h.proc.wait(timeout=30)

    @staticmethod
    def _kill_leftovers(h: Host, problems: list[str]) -> None:
        """containerd and shims of this host (their command lines name its exec-root), should any outlive it."""
        marker = str(h.root / "exec")
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                problems.append(f"process {pid} of {h.name} outlived dockerd: killed")
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        time.sleep(0.2)

    @staticmethod
    def _unmount_under(root: Path, problems: list[str]) -> None:
        prefix = str(root) + "/"
        with open("/proc/self/mounts") as fh:
            points = [line.split()[1] for line in fh if line.split()[1].startswith(prefix)]
        for point in sorted(points, key=len, reverse=True):
            problems.append(f"mount {point} left: unmounted")
            run("umount", "-l", point, check=False)

    @staticmethod
    def _remove_cgroups(name: str, problems: list[str]) -> None:
        for parent in CGROUP_ROOT.glob(f"*/{name}"):
            for folder in sorted((p for p in parent.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                                 reverse=True):
                try:
                    folder.rmdir()
                except OSError as exc:
                    problems.append(f"cgroup {folder}: {exc}")
            try:
                parent.rmdir()
            except OSError as exc:
                problems.append(f"cgroup {parent}: {exc}")

    def __enter__(self) -> NetnsSwarm:
        return self

    def __exit__(self, *exc: object) -> None:
        for problem in self.close():
            print(f"teardown: {problem}")
