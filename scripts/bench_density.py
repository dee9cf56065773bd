"""Benchmark group mode (`make up FLEET_COUNT=N STATIONS_PER_CONTAINER=K`) on this host, with the real broker.

For each N (--counts, default 1000,5000,10000) in its own compose project (temporary FLEET_DIR under .bench/,
free loopback port, torn down with its volumes afterwards):
- time until all N stations are connected (established TLS connections on the broker's port), after `make up`;
- then, for each aggregate rate R of --rates (INTERVAL = N / R per station, LOOP=true), a measuring window of
  --window seconds once every station is connected and no group is behind schedule any more (the backlog of the
  connect phase caught up; at most 120 s, `settle_s` in the results): the groups' memory (`docker stats`, cgroup memory without
  page cache) total and per station, the broker's memory and open fds, CPU-seconds per 1,000 messages (the groups'
  and the broker's cgroup CPU time over the window), the achieved rate (acknowledged messages over the window)
  and the worst p99 schedule lateness of the window's progress intervals; then SIGTERM, drain, and the groups'
  summaries: published = acknowledged and 0 failed is required;
- the highest R with p99 <= 1 s, every publish acknowledged, 0 failed, 0 disconnects and >= 95 % of R achieved:
  the rates of --rates are tried in order until one misses, then --search steps bisect between the last good
  and the first missed rate (the capacity at N);
- the bare-loop baseline at the capacity (scripts/bare_loop.py: one process per group with the same identities,
  QoS1 at the same rate, nothing else): the ratio of the groups' CPU-s per 1,000 messages to the bare loop's;
- an overload round at --overload times the capacity: lateness, connections kept (broker side), disconnects,
  failed stations and the groups' memory against the capacity round's (target <= 1.5x).
- what faults and metrics cost (testbed/overheads.py): three fleets of N = --overheads (1,000) at
  --overhead-rate (1,500 msg/s) each, side by side: none (FLEET_METRICS=false, no FAULTS), faults
  (FAULTS=--faults, contracts/faults/bench-tenth.yaml: every per-message fault on 10 % of the stations) and
  metrics (FLEET_METRICS=true, every group scraped every 5 s); --repeats windows measured on all three at once,
  then the variants move one fleet on (--rotations 3: each variant in each fleet's place); each variant's CPU
  per message over none's in the same window, geometric mean over the windows (targets: faults <= 1.05,
  metrics <= 1.03). `--counts 0` runs only these.
The same table compares one container per station at N = --compare (scripts/bench_fleet_scale.py's measure).
SIGINT/SIGTERM tear down what the benchmark started (compose project, volumes, bare-loop workers) and exit 130/143.

The machine may be shared: compare figures within one run (ratios), not across runs.
Writes bench-results/density.md and prints it. Usage:
    python scripts/bench_density.py [--data-dir DATA_DIR] [--counts 1000,5000,10000] [--per-container 1000]
                                    [--rates 1000,2500,5000,7500] [--search 1] [--overload 2] [--window 20]
                                    [--compare 100] [--overheads 1000] [--overhead-rate 1500]
                                    [--overhead-window 30] [--repeats 3] [--rotations 3] [--faults contracts/faults/bench-tenth.yaml]
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_report import write_report  # noqa: E402
from scripts.bench_fleet_scale import broker_clients, measure, stats  # noqa: E402
from testbed.compose_fleet import ComposeFleet  # noqa: E402
from testbed.overheads import (VARIANTS, Scraper, apply_variant, container_truth, injected_by_kind,  # noqa: E402
                               process_cpu_seconds, serves_metrics, summarize)

ROOT = Path(__file__).resolve().parent.parent
OUT = Path("bench-results") / "density.md"
WORK = Path(".bench")
BARE_WORKERS: list[subprocess.Popen[str]] = []  # killed on the way out, whatever happens


class Interrupted(Exception):
    """SIGINT or SIGTERM: unwind through every `finally` (teardown), then exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, _frame: Any) -> None:
    # Installed explicitly: a benchmark started in the background (`cmd &`) inherits SIGINT ignored, and SIGTERM's
    # default would kill it without tearing anything down. Further signals during the teardown are ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signum)


def install_signal_teardown() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def make_up(fleet: ComposeFleet, *variables: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """`make up` in a session of its own: interrupted, its whole process group (compose included) is killed before
    the teardown runs, so no `compose up` creates containers after the `down`."""
    py = sys.executable
    proc = subprocess.Popen(["make", "--no-print-directory", "-o", ".env", "-o", py, f"PY={py}", "up", *variables],
                            cwd=ROOT, env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def teardown(fleet: ComposeFleet) -> None:
    """The fleet's teardown, then whatever is still labelled with its project (containers, volumes, networks)."""
    fleet.teardown()
    label = f"label=com.docker.compose.project={fleet.project}"
    for kind in ("container", "volume", "network"):
        ids = subprocess.run(["docker", kind, "ls", "-q", *(["-a"] if kind == "container" else []), "--filter", label],
                             capture_output=True, text=True, timeout=60).stdout.split()
        if ids:
            subprocess.run(["docker", kind, "rm", "-f", *ids] if kind != "network" else ["docker", kind, "rm", *ids],
                           capture_output=True, timeout=300)


def stop_bare_workers() -> None:
    for proc in BARE_WORKERS:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    BARE_WORKERS.clear()


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


def acked_between(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> int:
    """Messages the groups acknowledged between two readings of their status files."""
    return sum(a.get("acked", 0) - b.get("acked", 0) for a, b in zip(after, before))


SUMMED = ("published", "acknowledged", "failed", "unacknowledged", "failed_stations", "disconnects")


def summary_totals(fleet: ComposeFleet, services: list[str]) -> dict[str, int]:
    """The SUMMED counts over the groups' last `group-summary` lines (after they stopped)."""
    summaries = [d for s in services for d in json_lines(fleet, s, "group-summary")[-1:]]
    return {k: sum(d.get(k, 0) for d in summaries) for k in SUMMED}


def connections(fleet: ComposeFleet) -> int:
    """Established connections to the broker's port: its /proc/<pid>/net/tcp{,6} read from the host when we may
    (no `docker exec`: each costs dockerd, containerd and runc tens of CPU-ms, which a benchmark polling every
    second takes from the fleet it measures), else through `docker exec`."""
    pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", fleet.container_id("broker")],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    try:
        rows = [line.split() for name in ("tcp", "tcp6")
                for line in Path(f"/proc/{pid}/net/{name}").read_text().splitlines()]
    except OSError:
        return broker_clients(fleet)
    return sum(1 for f in rows if len(f) > 3 and f[1].endswith(":22B3") and f[3] == "01")


def wait_connected(fleet: ComposeFleet, count: int, timeout: float) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if connections(fleet) >= count:
            return time.perf_counter() - t0
        time.sleep(1.0)
    return None


SETTLE_MAX_S = 120.0


def settle(fleet: ComposeFleet, services: list[str], limit: float) -> float:
    """Seconds waited after every station connected until no group is behind schedule any more (its status
    file's `behind_s` under 0.5 s; at least 5 s, at most `limit`): the backlog of the connect phase (publishing
    stations share the host with TLS handshakes) is caught up before the window measures the sustained rate."""
    t0 = time.perf_counter()
    time.sleep(5)
    while time.perf_counter() - t0 < limit:
        if max((group_status(fleet, s).get("behind_s") or 0.0 for s in services), default=0.0) < 0.5:
            break
        time.sleep(3)
    return time.perf_counter() - t0


def run_rate(fleet: ComposeFleet, count: int, per: int, rate: float, window: float, connect_rate: float,
             settle_max: float = SETTLE_MAX_S,
             inspect: Callable[[list[str]], dict[str, Any]] | None = None) -> dict[str, Any]:
    """One round at `rate` (see the module docstring); `inspect(services)`, when given, runs after the window while
    the groups still run, and its fields join the row."""
    groups = -(-count // per)
    fleet.env.update(INTERVAL=f"{count / rate:g}", CONNECT_RATE=f"{connect_rate / groups:g}")
    t0 = time.perf_counter()
    out = make_up(fleet, f"FLEET_COUNT={count}", f"STATIONS_PER_CONTAINER={per}")
    up_s = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"make up failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    connected_s = wait_connected(fleet, count, 300)
    row: dict[str, Any] = {"count": count, "rate": rate, "up_s": up_s, "connected_s": connected_s,
                           "load": os.getloadavg()[0]}
    if connected_s is None:
        row["error"] = f"only {connections(fleet)} of {count} connected after 300 s"
        fleet.compose("stop", "-t", "60", *groups_of(fleet), timeout=600)
        return row
    services = groups_of(fleet)
    row["settle_s"] = settle(fleet, services, settle_max)
    cpu0 = {s: cpu_seconds(fleet, s) for s in [*services, "broker"]}
    before = [group_status(fleet, s) for s in services]
    started = time.time()
    samples = []
    while time.time() - started < window:  # memory sampled through the window: its peak counts
        try:
            samples.append(stats(fleet))
        except subprocess.CalledProcessError:  # a container went away between listing and `docker stats`
            pass
        time.sleep(max(0.0, min(window / 4, started + window - time.time())))
    fds = broker_fds(fleet)
    kept = connections(fleet)
    elapsed = time.time() - started
    cpu1 = {s: cpu_seconds(fleet, s) for s in [*services, "broker"]}
    after = [group_status(fleet, s) for s in services]
    samples = samples or [stats(fleet)]
    mem = {k: max((m[k] for m in samples if k in m), key=lambda v: v[0]) for k in samples[-1]}
    messages = acked_between(before, after)
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
    behind = max((a.get("behind_s") or 0.0 for a in after), default=0.0)
    overloaded_lines = sum(len(json_lines(fleet, s, "group-overloaded")) for s in services)
    if inspect is not None:
        row.update(inspect(services))
    fleet.compose("stop", "-t", "60", *services, timeout=600)
    group_mem = [mem[s][0] for s in services if s in mem]
    row.update(
        groups=len(services), achieved=achieved, p99=max(p99s) if p99s else None,
        group_mem_total=sum(group_mem), group_mem_max=max(group_mem) if group_mem else 0.0,
        broker_mem=mem["broker"][0], broker_fds=fds,
        cpu_per_1000=(sum(cpu1[s] - cpu0[s] for s in services) / messages * 1000) if messages else None,
        broker_cpu_per_1000=((cpu1["broker"] - cpu0["broker"]) / messages * 1000) if messages else None,
        **summary_totals(fleet, services), connections_kept=kept, behind_s=behind,
        overloaded_lines=overloaded_lines, messages=messages)
    row["ok"] = (row["p99"] is not None and row["p99"] <= 1.0 and row["failed"] == 0 and row["unacknowledged"] == 0
                 and row["published"] == row["acknowledged"] and row["achieved"] >= 0.95 * rate
                 and row["disconnects"] == 0 and row["failed_stations"] == 0)
    return row


def run_bare(fleet: ComposeFleet, count: int, rate: float, window: float, connect_rate: float) -> dict[str, Any]:
    """The bare-loop baseline (scripts/bare_loop.py) with the groups' identities, one worker per group, at `rate`
    in all; the groups must be stopped (same client ids)."""
    shards = sorted((fleet.fleet_dir / "shards").glob("shard-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    network = subprocess.run(["docker", "network", "ls", "-q", "--filter",
                              f"label=com.docker.compose.project={fleet.project}"], capture_output=True, text=True,
                             timeout=60).stdout.split()[0]
    image = fleet.env.get("STATION_IMAGE") or "weather-fleet/station:latest"
    workers = []
    for n, shard in enumerate(shards, 1):
        names = [t["thing_name"] for t in json.loads(shard.read_text())["things"]]
        # In a container of the station image on the fleet's network, as the groups run: the same Python and
        # awscrt, the same path to the broker (not the host's docker-proxy, which 10,000 connections overwhelm).
        cmd = ["docker", "run", "--rm", "--name", f"{fleet.project}-bare-{n}", "--network", network,
               "--label", f"com.docker.compose.project={fleet.project}", "--user", fleet.env["FLEET_UID"],
               "--ulimit", "nofile=20000:20000", "--entrypoint", "python",
               "-v", f"{Path(__file__).with_name('bare_loop.py')}:/bare_loop.py:ro",
               "-v", f"{fleet.fleet_dir / 'shards' / str(n) / 'identities'}:/identities:ro", image, "/bare_loop.py",
               "--host", "broker", "--port", "8883", "--identities", "/identities", "--names", ",".join(names),
               "--rate", f"{rate * len(names) / count:g}", "--window", f"{window:g}", "--settle", "10",
               "--connect-rate", f"{connect_rate / len(shards):g}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        BARE_WORKERS.append(proc)
        workers.append(proc)
    results = []
    for proc in workers:
        out, err = proc.communicate(timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"bare loop failed: {err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    stop_bare_workers()
    acked = sum(r["acked_window"] for r in results)
    cpu = sum(r["cpu_s"] for r in results)
    return dict(rate=rate, clients=sum(r["clients"] for r in results), workers=len(results),
                achieved=sum(r["acked_window"] / r["window_s"] for r in results),
                cpu_per_1000=cpu / acked * 1000 if acked else None,
                published=sum(r["published"] for r in results), acknowledged=sum(r["acknowledged"] for r in results),
                failed=sum(r["failed"] for r in results), disconnects=sum(r["disconnects"] for r in results),
                load=os.getloadavg()[0])


def next_rate(rows: list[dict[str, Any]], rates: list[float], steps_left: int) -> float | None:
    """The rate search: --rates in order until one misses, then bisect (rounded to 50 msg/s) between the best
    good and the lowest missed rate, `steps_left` times."""
    tried = {r["rate"] for r in rows}
    good = [r["rate"] for r in rows if r.get("ok")]
    missed = [r["rate"] for r in rows if not r.get("ok")]
    if not missed:
        return next((r for r in rates if r not in tried), None)
    if steps_left <= 0:
        return None
    low, high = (max(good) if good else 0.0), min(missed)
    mid = round((low + high) / 2 / 50) * 50
    return mid if low < mid < high and mid not in tried else None


def bench_count(count: int, per: int, rates: list[float], data_dir: Path, window: float, connect_rate: float,
                search: int, overload: float) -> dict[str, Any]:
    """The rate search, the bare baseline at the capacity and the overload round, for N = `count`."""
    WORK.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        fleet = fleet_environment(data_dir, tmp)
        print(f"bench-density: N={count} in compose project {fleet.project}, FLEET_DIR {fleet.fleet_dir}",
              file=sys.stderr, flush=True)
        rows: list[dict[str, Any]] = []
        result: dict[str, Any] = {"rows": rows, "bare": None, "overload": None}
        try:
            steps = search
            while (rate := next_rate(rows, rates, steps)) is not None:
                if any(not r.get("ok") for r in rows):
                    steps -= 1
                row = run_rate(fleet, count, per, rate, window, connect_rate)
                rows.append(row)
                print(json.dumps(row), flush=True)
            good = [r for r in rows if r.get("ok")]
            best = max(good, key=lambda r: r["rate"]) if good else None
            if best is not None:
                result["bare"] = run_bare(fleet, count, best["rate"], window, connect_rate)
                print(json.dumps({"bare": result["bare"]}), flush=True)
                if overload > 0:
                    over = run_rate(fleet, count, per, best["rate"] * overload, window, connect_rate, settle_max=5.0)
                    over["steady_mem"] = best.get("group_mem_total")
                    result["overload"] = over
                    print(json.dumps({"overload": over}), flush=True)
        finally:
            stop_bare_workers()
            teardown(fleet)
        return result


def container_address(fleet: ComposeFleet, service: str) -> str:
    """The service container's address on the fleet's bridge network (this host reaches it directly)."""
    out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                          fleet.container_id(service)], capture_output=True, text=True, timeout=30)
    return out.stdout.split()[0]


def fleet_environment(data_dir: Path, tmp: str) -> ComposeFleet:
    return ComposeFleet(Path(tmp), data_dir, LOOP="true", LOG_FORMAT="json", PROGRESS_INTERVAL="5",
                        DRAIN_TIMEOUT="30", TIME_MODE="original", TOPIC="sensor/weather", SPEEDUP="")


def group_pid(fleet: ComposeFleet, service: str) -> int:
    """The host PID of a group container's `station run` process (its PID 1: the image's entrypoint)."""
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", fleet.container_id(service)],
                         capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip())


def bench_overheads(count: int, per: int, rate: float, data_dir: Path, window: float, connect_rate: float,
                    scenario: Path, repeats: int, rotations: int) -> dict[str, Any]:
    """The cost of the fault machinery and of the metrics (testbed.overheads): three fleets of N = `count` at
    `rate` side by side, `repeats` windows of `window` seconds measured on all three at once; then the variants
    move one fleet on (`rotations` times), so each variant runs in each fleet's place."""
    WORK.mkdir(exist_ok=True)
    groups = -(-count // per)
    tmps = [tempfile.TemporaryDirectory(dir=WORK) for _ in VARIANTS]
    fleets = [fleet_environment(data_dir, t.name) for t in tmps]
    for fleet in fleets:
        fleet.env.update(INTERVAL=f"{count / rate:g}", CONNECT_RATE=f"{connect_rate / groups:g}")
    print(f"bench-density: overheads: N={count}, {rate:g} msg/s each in compose projects "
          f"{', '.join(f.project for f in fleets)}", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = []
    checks: dict[str, dict[str, Any]] = {v: {} for v in VARIANTS}
    seen: list[dict[str, int]] = [{} for _ in fleets]  # faults in each fleet's ground truth so far, by kind
    scraper: Scraper | None = None
    try:
        for r in range(rotations):
            slots = {v: (i + r) % len(fleets) for i, v in enumerate(VARIANTS)}  # variant -> its fleet this time
            # in fleet order, so each variant also starts first, second and last once (a start-order bias cancels)
            placed = {v: fleets[i] for v, i in sorted(slots.items(), key=lambda item: item[1])}
            for variant, fleet in placed.items():
                apply_variant(fleet.env, variant, scenario)
                out = make_up(fleet, f"FLEET_COUNT={count}", f"STATIONS_PER_CONTAINER={per}")
                if out.returncode != 0:
                    raise RuntimeError(f"make up ({variant}) failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
            for variant, fleet in placed.items():
                if wait_connected(fleet, count, 300) is None:
                    raise RuntimeError(f"{variant}: only {connections(fleet)} of {count} connected after 300 s")
            services = {v: groups_of(f) for v, f in placed.items()}
            metrics = placed["metrics"]
            scraper = Scraper(lambda: [container_address(metrics, s) for s in services["metrics"]]).start()
            for variant, fleet in placed.items():
                settle(fleet, services[variant], SETTLE_MAX_S)
            pids = {v: [group_pid(f, s) for s in services[v]] for v, f in placed.items()}
            for w in range(repeats):
                cpu0 = {v: sum(process_cpu_seconds(p) for p in ps) for v, ps in pids.items()}
                before = {v: [group_status(f, s) for s in services[v]] for v, f in placed.items()}
                started = time.time()
                time.sleep(window)
                cpu1 = {v: sum(process_cpu_seconds(p) for p in ps) for v, ps in pids.items()}
                after = {v: [group_status(f, s) for s in services[v]] for v, f in placed.items()}
                elapsed = time.time() - started
                for variant in VARIANTS:
                    acked = acked_between(before[variant], after[variant])
                    rows.append({"variant": variant, "window": f"{r}.{w}", "fleet": slots[variant] + 1,
                                 "messages": acked, "achieved": acked / elapsed, "load": os.getloadavg()[0],
                                 "cpu_per_1000": (cpu1[variant] - cpu0[variant]) / acked * 1000 if acked else None})
                    print(json.dumps({"overheads": rows[-1]}), flush=True)
            for k, n in scraper.stop().items():
                checks["metrics"][k] = checks["metrics"].get(k, 0) + n
            scraper = None
            for variant, fleet in placed.items():
                c = checks[variant]
                c["metrics_served"] = c.get("metrics_served", 0) + sum(
                    serves_metrics(container_address(fleet, s)) for s in services[variant])
                c["groups"] = c.get("groups", 0) + len(services[variant])
                fleet.compose("stop", "-t", "60", *services[variant], timeout=600)
                for k, n in summary_totals(fleet, services[variant]).items():
                    c[k] = c.get(k, 0) + n
                if variant == "faults":
                    slot = slots[variant]
                    total = injected_by_kind("".join(container_truth(fleet.container_id(s))
                                                     for s in services[variant]))
                    injected = c.setdefault("injected", {})
                    for kind, n in total.items():
                        injected[kind] = injected.get(kind, 0) + n - seen[slot].get(kind, 0)
                    seen[slot] = total
            print(json.dumps({"overheads-check": checks}), flush=True)
    finally:
        if scraper is not None:
            scraper.stop()
        for fleet in fleets:
            teardown(fleet)
        for t in tmps:
            t.cleanup()
    return {"count": count, "rate": rate, "rows": rows, "checks": checks, "summary": summarize(rows),
            "rotations": rotations, "repeats": repeats}


def overhead_lines(o: dict[str, Any], scenario: Path, window: float) -> list[str]:
    """The overheads section of the report."""
    what = {"none": "no FAULTS, FLEET_METRICS=false", "faults": f"FAULTS={scenario.name} (10 % of the stations)",
            "metrics": "FLEET_METRICS=true, every group scraped every 5 s"}
    lines = ["", f"What faults and metrics cost: three fleets of {o['count']} stations side by side, each with its own "
             f"broker, {o['rate']:g} msg/s asked of each; {o['repeats']} windows of {window:g} s measured on all "
             f"three at once, then the variants moved one fleet on ({o['rotations']} placements, so each variant "
             "ran in each fleet's place). CPU: the group processes' own (/proc, healthchecks excluded) per 1,000 "
             "acknowledged messages; ratio: the geometric mean over the windows of the variant's figure over "
             "`none`'s in the same window (with each variant in each place equally often, what a place adds or "
             "takes cancels out):", "",
             "| variant | what | CPU-s / 1,000 msgs, each window | ratio to none, each window | ratio (geometric mean) | "
             "target | met | achieved msg/s | published = acknowledged, failed, disconnects | checks |",
             "|---|---|---|---|---:|---:|---|---:|---|---|"]
    for variant in VARIANTS:
        v, c = o["summary"][variant], o["checks"][variant]
        achieved = [r["achieved"] for r in o["rows"] if r["variant"] == variant]
        bits = [f"metrics served by {c.get('metrics_served', '-')} of {c.get('groups', '-')} groups"]
        if "scrapes" in c:
            bits.append(f"{c['scrapes']} scrapes, {c['scrape_failures']} failed")
        if "injected" in c:
            bits.append("faults injected: " + ", ".join(f"{k} {n}" for k, n in c["injected"].items()))
        lines.append(
            f"| {variant} | {what[variant]} | {', '.join(format(x, '.4f') for x in v['windows'])} | "
            f"{', '.join(format(x, '.3f') for x in v['ratios'])} | {fmt(v['ratio'], '.3f')} | "
            f"{'-' if v['target'] is None else format(v['target'], '.2f')} | "
            f"{'-' if v['met'] is None else ('yes' if v['met'] else 'no')} | "
            f"{fmt(statistics.median(achieved) if achieved else None, '.0f')} | "
            f"{c.get('published', '-')} = {c.get('acknowledged', '-')}, {c.get('failed', '-')}, "
            f"{c.get('disconnects', '-')} | {'; '.join(bits)} |")
    return lines


def fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or "data"))
    parser.add_argument("--counts", default="1000,5000,10000")
    parser.add_argument("--per-container", type=int, default=1000)
    parser.add_argument("--rates", default="1000,2500,5000,7500")
    parser.add_argument("--search", type=int, default=1, help="bisection steps after the first missed rate")
    parser.add_argument("--overload", type=float, default=2.0, help="overload round at this times the capacity (0: none)")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--connect-rate", type=float, default=400.0, help="connects per second, all groups together")
    parser.add_argument("--compare", type=int, default=100, help="one container per station at this N (0: skip)")
    parser.add_argument("--overheads", type=int, default=1000,
                        help="N at which faults and metrics are priced against neither (0: skip)")
    parser.add_argument("--overhead-rate", type=float, default=1500.0, help="msg/s asked of each variant's fleet")
    parser.add_argument("--overhead-window", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=3, help="windows measured on the variants side by side")
    parser.add_argument("--rotations", type=int, default=3,
                        help="placements of the variants on the three fleets (3: each variant in each place)")
    parser.add_argument("--faults", type=Path, default=ROOT / "contracts" / "faults" / "bench-tenth.yaml",
                        help="the scenario of the faults variant")
    args = parser.parse_args()
    install_signal_teardown()
    try:
        return report(args)
    except Interrupted as exc:
        print(f"bench-density: {exc}: torn down what it started", file=sys.stderr)
        return 128 + exc.signum


def report(args: argparse.Namespace) -> int:
    data = args.data_dir.resolve()
    rates = [float(r) for r in args.rates.split(",")]
    counts = [int(c) for c in args.counts.split(",") if c.strip() and int(c)]
    outcomes = {c: bench_count(c, args.per_container, rates, data, args.window, args.connect_rate,
                               args.search, args.overload) for c in counts}
    overheads = (bench_overheads(args.overheads, args.per_container, args.overhead_rate, data, args.overhead_window,
                                 args.connect_rate, args.faults.resolve(), args.repeats, args.rotations)
                 if args.overheads else None)
    results = {c: o["rows"] for c, o in outcomes.items()}
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
        best = max(good, key=lambda r: r["rate"]) if good else (rows[-1] if rows else {})
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
    lines += ["", "Capacity, bare-loop baseline and overload (the bare loop: scripts/bare_loop.py, one process per "
              "group with the same identities and rate, QoS1 only, right after the groups in the same run):", "",
              "| stations | capacity (msg/s) | groups' CPU-s / 1,000 msgs | bare loop's CPU-s / 1,000 msgs | ratio | "
              "bare published = acked, disconnects | host load | overload round (msg/s asked) | achieved | "
              "p99 lateness (s) | behind (s) | connections kept | disconnects | failed stations | published = acked | "
              "memory vs capacity round | group-overloaded lines |",
              "|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for count, o in outcomes.items():
        good = [r for r in o["rows"] if r.get("ok")]
        best = max(good, key=lambda r: r["rate"]) if good else {}
        bare, over = o["bare"] or {}, o["overload"] or {}
        ratio = (best["cpu_per_1000"] / bare["cpu_per_1000"]) if best.get("cpu_per_1000") and bare.get(
            "cpu_per_1000") else None
        mem_ratio = (over["group_mem_total"] / over["steady_mem"]) if over.get("group_mem_total") and over.get(
            "steady_mem") else None
        lines.append(
            f"| {count} | {fmt(best.get('rate'), '.0f')} | {fmt(best.get('cpu_per_1000'), '.3f')} | "
            f"{fmt(bare.get('cpu_per_1000'), '.3f')} | {fmt(ratio, '.2f')} | {bare.get('published', '-')} = "
            f"{bare.get('acknowledged', '-')}, {bare.get('disconnects', '-')} | {fmt(bare.get('load'))} | "
            f"{fmt(over.get('rate'), '.0f')} | {fmt(over.get('achieved'), '.0f')} | {fmt(over.get('p99'), '.2f')} | "
            f"{fmt(over.get('behind_s'), '.1f')} | {over.get('connections_kept', '-')} of {count} | "
            f"{over.get('disconnects', '-')} | {over.get('failed_stations', '-')} | {over.get('published', '-')} = "
            f"{over.get('acknowledged', '-')} | {fmt(mem_ratio, '.2f')}x | {over.get('overloaded_lines', '-')} |")
    if not counts and not single:  # only the overheads were asked for: no empty tables
        lines = lines[:1]
    if overheads is not None:
        lines += overhead_lines(overheads, args.faults, args.overhead_window)
    lines += ["", f"Command: `make bench-density` (`python scripts/bench_density.py --counts {args.counts} "
              f"--per-container {args.per_container} --rates {args.rates} --search {args.search} --overload {args.overload:g} "
              f"--window {args.window:g} --overheads {args.overheads} --overhead-rate {args.overhead_rate:g} "
              f"--overhead-window {args.overhead_window:g} --repeats {args.repeats} --rotations {args.rotations}`). Memory: `docker stats` (cgroup memory "
              "without page cache; the shared message cache is page cache). The one-container row runs "
              "scripts/bench_fleet_scale.py's measure (SPEEDUP=3600)."]
    return write_report(OUT, lines)


if __name__ == "__main__":
    raise SystemExit(main())
