"""Benchmark group mode (`make up FLEET_COUNT=N STATIONS_PER_CONTAINER=K`) on this host, with the real broker.

For each N (--counts, default 1000,5000,10000) in its own compose project (temporary FLEET_DIR under .bench/,
free loopback port, torn down with its volumes afterwards):
- time until all N stations are connected (established TLS connections on the broker's port), after `make up`;
- then, for each aggregate rate R of --rates (INTERVAL = N / R per station, LOOP=true), a measuring window of
  --window seconds once every station is connected: the groups' memory (`docker stats`, cgroup memory without
  page cache) total and per station, the broker's memory and open fds, CPU-seconds per 1,000 messages (the groups'
  and the broker's cgroup CPU time over the window), the achieved rate (acknowledged messages over the window)
  and the worst p99 schedule lateness of the window's progress intervals; then SIGTERM, drain, and the groups'
  summaries: published = acknowledged and 0 failed is required;
- the highest R with p99 <= 1 s, every publish acknowledged, 0 failed and >= 95 % of R achieved.
The same table compares one container per station at N = --compare (scripts/bench_fleet_scale.py's measure).

The machine may be shared: compare figures within one run (ratios), not across runs.
Writes bench-results/density.md and prints it. Usage:
    python scripts/bench_density.py [--data-dir DATA_DIR] [--counts 1000,5000,10000] [--per-container 1000]
                                    [--rates 1000,2500,5000,7500] [--window 20] [--compare 100]
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_report import write_report  # noqa: E402
from scripts.bench_fleet_scale import broker_clients, measure, stats  # noqa: E402
from testbed.compose_fleet import ComposeFleet  # noqa: E402

OUT = Path("bench-results") / "density.md"
WORK = Path(".bench")


def groups_of(fleet: ComposeFleet) -> list[str]:
    return [s for s in fleet.running_services() if s.startswith("group-")]


def broker_fds(fleet: ComposeFleet) -> int:
    """Open file descriptors of the broker's main process, counted from the host (/proc/<pid>/fd)."""
    cid = fleet.container_id("broker")
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", cid], capture_output=True, text=True,
                         timeout=30).stdout.strip()
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:  # not root, or another PID namespace: ask inside the container
        out = subprocess.run(["docker", "exec", cid, "sh", "-c", "ls /proc/1/fd | wc -l"], capture_output=True,
                             text=True, timeout=30)
        return int(out.stdout.strip() or 0)


def cpu_seconds(fleet: ComposeFleet, service: str) -> float:
    """The container's cgroup CPU time (v2 cpu.stat usage_usec, or v1 cpuacct.usage)."""
    cid = fleet.container_id(service)
    out = subprocess.run(["docker", "exec", cid, "sh", "-c", "cat /sys/fs/cgroup/cpu.stat 2>/dev/null || "
                          "cat /sys/fs/cgroup/cpuacct/cpuacct.usage"], capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        if line.startswith("usage_usec"):
            return int(line.split()[1]) / 1e6
    return int(out.split()[0]) / 1e9 if out.strip() else 0.0


def group_status(fleet: ComposeFleet, service: str) -> dict[str, Any]:
    cid = fleet.container_id(service)
    out = subprocess.run(["docker", "exec", cid, "cat", "/state/group.status.json"], capture_output=True, text=True,
                         timeout=30).stdout
    return json.loads(out) if out.strip() else {}


def json_lines(fleet: ComposeFleet, service: str, event: str) -> list[dict[str, Any]]:
    docs = []
    for line in fleet.logs(service).splitlines():
        if f'"event":"{event}"' in line:
            try:
                docs.append(json.loads(line[line.index("{"):]))
            except ValueError:
                pass
    return docs


def wait_connected(fleet: ComposeFleet, count: int, timeout: float) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if broker_clients(fleet) >= count:
            return time.perf_counter() - t0
        time.sleep(0.5)
    return None


def run_rate(fleet: ComposeFleet, count: int, per: int, rate: float, window: float, connect_rate: float
             ) -> dict[str, Any]:
    groups = -(-count // per)
    fleet.env.update(INTERVAL=f"{count / rate:g}", CONNECT_RATE=f"{connect_rate / groups:g}")
    t0 = time.perf_counter()
    out = fleet.make("up", f"FLEET_COUNT={count}", f"STATIONS_PER_CONTAINER={per}", timeout=1800)
    up_s = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"make up failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    connected_s = wait_connected(fleet, count, 900)
    row: dict[str, Any] = {"count": count, "rate": rate, "up_s": up_s, "connected_s": connected_s,
                           "load": os.getloadavg()[0]}
    if connected_s is None:
        row["error"] = f"only {broker_clients(fleet)} of {count} connected after 900 s"
        return row
    time.sleep(5)  # settle
    services = groups_of(fleet)
    cpu0 = {s: cpu_seconds(fleet, s) for s in [*services, "broker"]}
    before = [group_status(fleet, s) for s in services]
    started = time.time()
    time.sleep(window / 2)
    mem = stats(fleet)
    fds = broker_fds(fleet)
    time.sleep(window / 2)
    elapsed = time.time() - started
    cpu1 = {s: cpu_seconds(fleet, s) for s in [*services, "broker"]}
    after = [group_status(fleet, s) for s in services]
    messages = sum(a.get("acked", 0) - b.get("acked", 0) for a, b in zip(after, before))
    # each group's rate over the span between its two status writes (a status file is rewritten every second)
    achieved = sum((a.get("acked", 0) - b.get("acked", 0)) / max(1e-3, a.get("updated_at", 0) - b.get("updated_at", 0))
                   for a, b in zip(after, before))
    p99s = []
    for s in services:
        for doc in json_lines(fleet, s, "group-progress"):
            ts = doc.get("time", "")
            stamp = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) if ts else 0
            if started + 1 <= stamp <= started + elapsed + 1 and doc.get("lateness_p99_s") is not None:
                p99s.append(float(doc["lateness_p99_s"]))
    fleet.compose("stop", "-t", "60", *services, timeout=600)
    summaries = [d for s in services for d in json_lines(fleet, s, "group-summary")[-1:]]
    group_mem = [mem[s][0] for s in services if s in mem]
    row.update(
        groups=len(services), achieved=achieved, p99=max(p99s) if p99s else None,
        group_mem_total=sum(group_mem), group_mem_max=max(group_mem) if group_mem else 0.0,
        broker_mem=mem["broker"][0], broker_fds=fds,
        cpu_per_1000=(sum(cpu1[s] - cpu0[s] for s in services) / messages * 1000) if messages else None,
        broker_cpu_per_1000=((cpu1["broker"] - cpu0["broker"]) / messages * 1000) if messages else None,
        published=sum(d.get("published", 0) for d in summaries),
        acknowledged=sum(d.get("acknowledged", 0) for d in summaries),
        failed=sum(d.get("failed", 0) for d in summaries),
        unacknowledged=sum(d.get("unacknowledged", 0) for d in summaries),
        failed_stations=sum(d.get("failed_stations", 0) for d in summaries))
    row["ok"] = (row["p99"] is not None and row["p99"] <= 1.0 and row["failed"] == 0 and row["unacknowledged"] == 0
                 and row["published"] == row["acknowledged"] and row["achieved"] >= 0.95 * rate)
    return row


def bench_count(count: int, per: int, rates: list[float], data_dir: Path, window: float, connect_rate: float
                ) -> list[dict[str, Any]]:
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        fleet = ComposeFleet(Path(tmp), data_dir, LOOP="true", LOG_FORMAT="json", PROGRESS_INTERVAL="5",
                             DRAIN_TIMEOUT="30", TIME_MODE="original", TOPIC="sensor/weather", SPEEDUP="")
        rows = []
        try:
            for rate in rates:
                row = run_rate(fleet, count, per, rate, window, connect_rate)
                rows.append(row)
                print(json.dumps(row), flush=True)
                if not row.get("ok"):
                    break
        finally:
            fleet.teardown()
        return rows


def fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or "data"))
    parser.add_argument("--counts", default="1000,5000,10000")
    parser.add_argument("--per-container", type=int, default=1000)
    parser.add_argument("--rates", default="1000,2500,5000,7500")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--connect-rate", type=float, default=400.0, help="connects per second, all groups together")
    parser.add_argument("--compare", type=int, default=100, help="one container per station at this N (0: skip)")
    args = parser.parse_args()
    data = args.data_dir.resolve()
    rates = [float(r) for r in args.rates.split(",")]
    results = {int(c): bench_count(int(c), args.per_container, rates, data, args.window, args.connect_rate)
               for c in args.counts.split(",")}
    single = measure(args.compare, data, 20.0, "3600") if args.compare else None
    cpus = os.cpu_count()
    lines = [f"# Density: group containers vs one container per station ({platform.machine()}, {cpus} CPUs, "
             f"{args.per_container} stations per group container)", "",
             "| stations | containers | all connected (s after `make up`) | `make up` (s) | station-side memory, total "
             "(MiB) | per group container (MiB, max) | per station (KiB) | broker memory (MiB) | broker open fds | "
             "stations' CPU-s per 1,000 msgs | broker CPU-s per 1,000 msgs | highest rate with p99 <= 1 s, zero loss "
             "(msg/s) | p99 lateness at it (s) | published = acked, failed |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for count, rows in results.items():
        good = [r for r in rows if r.get("ok")]
        best = good[-1] if good else (rows[-1] if rows else {})
        first = rows[0] if rows else {}
        lines.append(
            f"| {count} | {best.get('groups', '-')} | {fmt(first.get('connected_s'), '.0f')} | "
            f"{fmt(first.get('up_s'), '.0f')} | {fmt(best.get('group_mem_total'), '.0f')} | "
            f"{fmt(best.get('group_mem_max'))} | {fmt(best.get('group_mem_total', 0) * 1024 / count, '.0f')} | "
            f"{fmt(best.get('broker_mem'))} | {best.get('broker_fds', '-')} | {fmt(best.get('cpu_per_1000'), '.2f')} | "
            f"{fmt(best.get('broker_cpu_per_1000'), '.2f')} | "
            f"{fmt(best.get('rate'), '.0f') if good else 'none of ' + args.rates} | {fmt(best.get('p99'), '.2f')} | "
            f"{best.get('published', '-')} = {best.get('acknowledged', '-')}, {best.get('failed', '-')} failed |")
    if single:
        lines.append(
            f"| {single['count']} (one container each) | {single['count']} | {single['connected_s']:.0f} | "
            f"{single['up_s']:.0f} | {single['sum']:.0f} | {single['max']:.1f} | "
            f"{single['sum'] * 1024 / single['count']:.0f} | {single['broker_mem']:.1f} | {single['broker_fds']} | - | "
            f"- | - | - | - |")
    lines += ["", "Every rate tried (INTERVAL = N / rate per station, LOOP=true; window "
              f"{args.window:g} s after all connected):", "",
              "| stations | target msg/s | achieved msg/s | p99 lateness (s) | published | acknowledged | failed | "
              "unacknowledged | stations failed | stations' CPU-s / 1,000 msgs | host load (1 min) | result |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for count, rows in results.items():
        for r in rows:
            lines.append(f"| {count} | {r['rate']:.0f} | {fmt(r.get('achieved'), '.0f')} | {fmt(r.get('p99'), '.2f')} | "
                         f"{r.get('published', '-')} | {r.get('acknowledged', '-')} | {r.get('failed', '-')} | "
                         f"{r.get('unacknowledged', '-')} | {r.get('failed_stations', '-')} | "
                         f"{fmt(r.get('cpu_per_1000'), '.2f')} | {fmt(r.get('load'))} | "
                         f"{'ok' if r.get('ok') else r.get('error', 'missed')} |")
    lines += ["", f"Command: `make bench-density` (`python scripts/bench_density.py --counts {args.counts} "
              f"--per-container {args.per_container} --rates {args.rates}`). Memory: `docker stats` (cgroup memory "
              "without page cache; the shared message cache is page cache). The one-container row runs "
              "scripts/bench_fleet_scale.py's measure (SPEEDUP=3600)."]
    return write_report(OUT, lines)


if __name__ == "__main__":
    raise SystemExit(main())
