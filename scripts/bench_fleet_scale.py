"""Benchmark a large local fleet on this host: `make up FLEET_COUNT=N`, then memory and CPU per station container
(`docker stats --no-stream`), the broker's memory and open file descriptors, and how long `make up` took.

Each size runs in its own compose project (temporary FLEET_DIR, free loopback port) and is torn down, volumes too.
Writes bench-results/fleet-scale.md (and prints it). Needs a Docker engine and ISD files. Usage:
    python scripts/bench_fleet_scale.py [--data-dir DATA_DIR] [--counts 5,25,50] [--settle 20] [--speedup 3600]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_report import write_report  # noqa: E402
from testbed.compose_fleet import ComposeFleet  # noqa: E402  (the e2e tests' project runner)

OUT = Path("bench-results") / "fleet-scale.md"
UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "kB": 1 / 1024, "MiB": 1.0, "MB": 1.0, "GiB": 1024.0, "GB": 1024.0}


def mib(text: str) -> float:
    m = re.match(r"([\d.]+)\s*([A-Za-z]+)", text.strip())
    if not m:
        raise ValueError(f"unreadable memory figure {text!r}")
    return float(m[1]) * UNITS[m[2]]


def stats(fleet: ComposeFleet) -> dict[str, tuple[float, float]]:
    """service -> (memory MiB, CPU %) of every running container of the project."""
    ids = fleet.containers(all_states=False)
    fmt = '{{.Name}}\t{{.MemUsage}}\t{{.CPUPerc}}'
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", fmt, *ids], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    result = {}
    for line in out.splitlines():
        name, mem, cpu = line.split("\t")
        service = re.sub(rf"^{fleet.project}[_-]|[_-]\d+$", "", name)
        result[service] = (mib(mem.split("/")[0]), float(cpu.rstrip("%") or 0))
    return result


def broker_fds(fleet: ComposeFleet) -> int:
    cid = fleet.container_id("broker")
    out = subprocess.run(["docker", "exec", cid, "sh", "-c", "ls /proc/1/fd | wc -l"], capture_output=True,
                         text=True, timeout=30)
    return int(out.stdout.strip() or 0)


def broker_clients(fleet: ComposeFleet) -> int:
    """Established TCP connections to the broker's port 8883 (its /proc/net/tcp and tcp6)."""
    cid = fleet.container_id("broker")
    out = subprocess.run(["docker", "exec", cid, "cat", "/proc/net/tcp", "/proc/net/tcp6"], capture_output=True,
                         text=True, timeout=30).stdout
    rows = [line.split() for line in out.splitlines()]
    return sum(1 for f in rows if len(f) > 3 and f[1].endswith(":22B3") and f[3] == "01")


def measure(count: int, data_dir: Path, settle: float, speedup: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        fleet = ComposeFleet(Path(tmp), data_dir, SPEEDUP=speedup, LOOP="true", LOG_FORMAT="text",
                             PROGRESS_INTERVAL="30")
        try:
            t0 = time.perf_counter()
            out = fleet.make("up", f"FLEET_COUNT={count}", timeout=1800)
            up_s = time.perf_counter() - t0
            if out.returncode != 0:
                raise RuntimeError(f"make up FLEET_COUNT={count} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
            t1, deadline = time.perf_counter(), time.monotonic() + 600
            while broker_clients(fleet) < count and time.monotonic() < deadline:
                time.sleep(1)
            connected_s = time.perf_counter() - t1
            time.sleep(settle)
            s = stats(fleet)
            stations = {k: v for k, v in s.items() if k.startswith("station-")}
            if len(stations) != count:
                raise RuntimeError(f"{len(stations)} station containers running, expected {count}")
            mems = [m for m, _ in stations.values()]
            return {"count": count, "up_s": up_s, "connected_s": connected_s, "median": statistics.median(mems), "max": max(mems),
                    "sum": sum(mems), "cpu": sum(c for _, c in stations.values()), "broker_mem": s["broker"][0],
                    "broker_fds": broker_fds(fleet)}
        finally:
            fleet.teardown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or "data"))
    parser.add_argument("--counts", default="5,25,50")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds between all stations connected and the measure")
    parser.add_argument("--speedup", default="3600", help="SPEEDUP of the stations (default %(default)s)")
    args = parser.parse_args()
    rows = [measure(int(c), args.data_dir.resolve(), args.settle, args.speedup) for c in args.counts.split(",")]
    cpus = os.cpu_count()
    lines = [f"# Fleet on one host ({platform.machine()}, {cpus} CPUs; stations at SPEEDUP={args.speedup}, "
             f"measured {args.settle:.0f} s after all connected)", "",
             "| stations | `make up` (s) | all connected after (s) | station memory, median (MiB) | max (MiB) | all stations (MiB) "
             "| stations' CPU (% of one core) | broker memory (MiB) | broker open fds |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['count']} | {r['up_s']:.0f} | {r['connected_s']:.0f} | {r['median']:.1f} | {r['max']:.1f} | {r['sum']:.0f} "
              f"| {r['cpu']:.0f} | {r['broker_mem']:.1f} | {r['broker_fds']} |" for r in rows]
    lines += ["", "Command: `make bench-fleet-scale` (`python scripts/bench_fleet_scale.py --counts "
              f"{args.counts}`). Memory is `docker stats` MemUsage (cgroup memory without page cache)."]
    return write_report(OUT, lines)


if __name__ == "__main__":
    raise SystemExit(main())
