"""The swarm stack across hosts on this one machine: one Docker engine per network namespace (root only).

Builds 3 (--nodes) hosts with testbed/netns_swarm.py: a manager `a` labelled weather-fleet.broker=true and
workers labelled weather-fleet.stations=true, joined over veths on a bridge; copies the images in with
`docker save | docker load` (the station image to every host, the broker image to the manager only: nothing is
pulled, `--resolve-image never`). Then, per round (--count single stations; then groups of --per-container):
`make swarm-up` with DOCKER_HOST=<manager's socket> (swarm-images skipped: the hosts have no network to build
in, the images are built once on the main engine by `make swarm-images`), a monitor subscriber (the monitor
identity, sensor/#) run inside the manager's namespace against the relay's 127.0.0.1:BROKER_PORT there, the
tasks' nodes from `docker service ps`, the bytes on each host's wire, then `make swarm-down`.
Always torn down at the end (swarm left, engines stopped, namespaces, cgroups, sockets and folders removed),
on failure and on SIGINT/SIGTERM too.

Writes bench-results/swarm-nodes.md and prints it. Usage:
    sudo python scripts/bench_swarm_nodes.py [--data-dir DATA_DIR] [--nodes 3] [--count 20] [--per-container 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench_report import write_report  # noqa: E402
from testbed.compose_fleet import STATION_KNOBS  # noqa: E402
from testbed.lab_files import short_lab_files  # noqa: E402
from testbed.netns_swarm import LabError, NetnsSwarm  # noqa: E402

OUT = Path("bench-results") / "swarm-nodes.md"
STATION_IMAGE = "weather-fleet/station:nodes"
MOSQUITTO_IMAGE = "weather-fleet/mosquitto:nodes"
BROKER_PORT = 18883  # inside the manager's namespace: nothing else listens there
STATION_ENV = {"INTERVAL": "0.25", "PROGRESS_INTERVAL": "2", "LOG_FORMAT": "text", "LOOP": "false",
               "TOPIC": "sensor/weather", "CONNECT_TIMEOUT": "60"}


class Stopped(Exception):
    """SIGTERM/SIGHUP: unwind through the finally blocks (teardown)."""


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


# --- the monitor, run in the manager's network namespace --------------------------------------------------------
def monitor(fleet_dir: Path, port: int, expect: int, timeout: float, quiet: float) -> dict[str, Any]:
    """Subscribe as the monitor; until every expected thing was heard and nothing arrived for `quiet` s."""
    from fleetcore.identity import default_client_id
    from testbed.certs import Identity
    from testbed.mqtt import Subscriber

    deadline = time.monotonic() + timeout
    identity = Identity("monitor", fleet_dir / "things" / "monitor")
    while True:
        try:
            sub = Subscriber("127.0.0.1", port, identity, topic="sensor/#", client_id=default_client_id("monitor"))
            sub.__enter__()
            break
        except Exception:  # noqa: BLE001 - the relay answers at once, the broker behind it may still be starting
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    subscribed = time.time()
    all_heard: float | None = None
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            msgs = sub.messages()
            if all_heard is None and len({m["thing_name"] for m in msgs}) >= expect:
                all_heard = time.time()
            last = sub.arrivals[-1] if sub.arrivals else None
            if all_heard is not None and last is not None and time.monotonic() - last > quiet:
                break
        msgs = sub.messages()
    finally:
        sub.__exit__(None, None, None)
    seqs: dict[str, list[int]] = {}
    for m in msgs:
        seqs.setdefault(m["thing_name"], []).append(int(m["seq"]))
    per = [len(v) for v in seqs.values()]
    return {"subscribed": subscribed, "all_heard": all_heard, "messages": len(msgs), "heard": len(seqs),
            "monotonic": sum(1 for v in seqs.values() if v == sorted(v) and len(set(v)) == len(v)),
            "per_min": min(per, default=0), "per_max": max(per, default=0),
            # seq counts from 1 per station: first seq heard - 1 = its messages sent before we subscribed
            "before_subscribed": sum(min(v) - 1 for v in seqs.values()),
            "gaps": sum(max(v) - min(v) + 1 - len(set(v)) for v in seqs.values()),
            "publishers": sorted({str(m.get("publisher", "")) for m in msgs} - {""})[:3]}


# --- the bench ----------------------------------------------------------------------------------------------------
def clean_environment() -> dict[str, str]:
    """The environment without the caller's make variables (`make bench-swarm-nodes DATA_DIR=...` hands its
    command line to sub-makes through MAKEFLAGS, which would override the round's DATA_DIR) or docker settings,
    and with every station setting empty: `make` exports `.env`'s values (e.g. SPEEDUP=3600) to this script, and
    they would reach the rounds' stations beside the round's own (INTERVAL: "set SPEEDUP or INTERVAL, not both")."""
    kept = {k: v for k, v in os.environ.items()
            if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES") and k not in STATION_KNOBS
            and not k.startswith(("STATION_", "DOCKER_"))}
    return {**kept, **{k: "" for k in STATION_KNOBS}}


def make(target: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    py = str(Path(sys.executable))
    return subprocess.run(["make", "--no-print-directory", "-o", ".env", "-o", py, "-o", "swarm-images",
                           f"PY={py}", target], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def build_images() -> None:
    env = {**clean_environment(), "STATION_IMAGE": STATION_IMAGE, "MOSQUITTO_IMAGE": MOSQUITTO_IMAGE,
           "BASE_IMAGE": os.environ.get("BASE_IMAGE", "local/python-base:ci")}
    py = str(Path(sys.executable))
    out = subprocess.run(["make", "--no-print-directory", "-o", ".env", "-o", py, f"PY={py}", "swarm-images"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise LabError(f"make swarm-images on the main engine failed: {out.stderr.strip()[-800:]}")


def expected_messages(fleet_dir: Path, data: Path) -> int:
    """One message per record from each station's start_offset to its file's end (LOOP=false)."""
    from fleetcore.manifest import load_manifest

    lines = {p.name: len(p.read_text(encoding="latin-1").splitlines()) for p in data.iterdir()}
    return sum(max(0, lines.get(t.isd_file or "", 0) - t.start_offset)
               for t in load_manifest(fleet_dir).stations())


def placement(lab: NetnsSwarm, stack: str) -> dict[str, Any]:
    """From the manager: service -> nodes of its tasks, task states, errors."""
    m = lab.manager
    ids = m.docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").split()
    where: dict[str, set[str]] = {}
    states: dict[str, int] = {}
    errors: set[str] = set()
    endpoint = ""
    for svc in json.loads(m.docker("service", "inspect", *ids)) if ids else []:
        name = svc["Spec"]["Name"].removeprefix(f"{stack}_")
        if name == "broker":
            endpoint = svc["Spec"].get("EndpointSpec", {}).get("Mode", "vip")
        out = m.docker("service", "ps", "--no-trunc", "--format", "{{.Node}}\t{{.CurrentState}}\t{{.Error}}",
                       svc["ID"])
        for line in out.splitlines():
            node, state, err = (line.split("\t") + ["", ""])[:3]
            where.setdefault(name, set()).add(node)
            key = state.split(" ")[0]
            states[key] = states.get(key, 0) + 1
            if err:
                errors.add(err)
    return {"where": where, "states": states, "errors": sorted(errors), "broker_endpoint": endpoint}


def run_round(lab: NetnsSwarm, work: Path, data: Path, label: str, count: int, per: int,
              timeout: float, rounds: list[dict[str, Any]], variant: str = "") -> None:
    """One deploy/measure/remove cycle; its result is appended to `rounds` first, so a stopped round shows too."""
    stack = f"wfn-{label}"
    fleet_dir = work / f"fleet-{label}"
    inherited = clean_environment()
    env = {**inherited, **STATION_ENV, "DOCKER_HOST": lab.manager.docker_host, "FLEET_DIR": str(fleet_dir),
           "DATA_DIR": str(data), "FLEET_COUNT": str(count), "PIPELINE": "", "REGISTRY": "",
           "STATIONS_PER_CONTAINER": str(per) if per > 1 else "", "SWARM_STACK": stack,
           "BROKER_PORT": str(BROKER_PORT),
           # The relay's port is inside the manager's namespace: `swarm-up` cannot wait for it from here.
           "BROKER_WAIT_SECONDS": "0", "STATION_IMAGE": STATION_IMAGE, "MOSQUITTO_IMAGE": MOSQUITTO_IMAGE,
           "FLEET_UID": "10001", "FLEET_GID": "10001"}
    wire0 = {h.name: h.eth0_bytes() for h in lab.hosts}
    result: dict[str, Any] = {"label": label, "count": count, "per": per, "variant": variant}
    rounds.append(result)
    t0 = time.time()
    try:
        up = make("swarm-up", env)
        result["up_s"] = time.time() - t0
        result["warnings"] = [line for line in up.stdout.splitlines() if line.startswith("warning:")]
        if up.returncode != 0:
            result["error"] = f"make swarm-up failed: {(up.stderr or up.stdout).strip()[-600:]}"
            return
        result["expected_messages"] = expected_messages(fleet_dir, data)
        mon = subprocess.run(lab.manager.netns_cmd(sys.executable, str(Path(__file__).resolve()), "--monitor",
                                                   "--fleet-dir", str(fleet_dir), "--port", str(BROKER_PORT),
                                                   "--expect", str(count), "--timeout", str(timeout)),
                             capture_output=True, text=True, timeout=timeout + 120, cwd=REPO)
        if mon.returncode != 0:
            result["error"] = f"monitor failed: {mon.stderr.strip()[-600:]}"
        else:
            result.update(json.loads(mon.stdout.strip().splitlines()[-1]))
            if result.get("all_heard"):
                result["all_heard_s"] = result["all_heard"] - t0
        result.update(placement(lab, stack))
        wire1 = {h.name: h.eth0_bytes() for h in lab.hosts}
        result["wire"] = {n: (wire1[n][0] - wire0[n][0], wire1[n][1] - wire0[n][1]) for n in wire0}
    finally:
        down = make("swarm-down", env, timeout=300)
        result["down_ok"] = down.returncode == 0
        if down.returncode != 0:
            result.setdefault("error", f"make swarm-down failed: {down.stderr.strip()[-400:]}")


def fmt_where(where: dict[str, set[str]], lab: NetnsSwarm) -> tuple[str, str]:
    broker = ",".join(sorted(where.get("broker", set()))) or "-"
    stations: dict[str, int] = {}
    for svc, nodes in where.items():
        if svc != "broker":
            for n in nodes:
                stations[n] = stations.get(n, 0) + 1
    return broker, ", ".join(f"{n}: {k}" for n, k in sorted(stations.items())) or "-"


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(lab: NetnsSwarm, rounds: list[dict[str, Any]], teardown: list[str], notes: list[str]) -> str:
    lines = ["# The swarm stack across Docker engines in network namespaces (scripts/bench_swarm_nodes.py)", "",
             f"Host: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
             f" {len(lab.hosts)} engines: " + ", ".join(
                 f"{h.name} ({h.ip}, {'manager, broker label' if h is lab.manager else 'worker, stations label'})"
                 for h in lab.hosts)
             + ". Overlay traffic between them crosses veths on a bridge (VXLAN, udp/4789).",
             "",
             "| round | services | broker ran on | station services with a task on each node | broker endpoint | "
             "task states | stations heard / expected | messages / expected (per station min-max) | sent before the "
             "monitor subscribed (first seq heard - 1, summed) | seq gaps after the first heard | seq increasing per "
             "station | "
             "all heard (s after `make swarm-up` began) | `make swarm-up` (s) | bytes on the wire rx/tx per node "
             "(KiB) | `make swarm-down` |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rounds:
        where = r.get("where", {})
        broker, stations = fmt_where(where, lab)
        wire = "; ".join(f"{n.rsplit('-', 1)[1]} {rx // 1024}/{tx // 1024}" for n, (rx, tx) in
                         sorted(r.get("wire", {}).items()))
        heard = r.get("heard", 0)
        kind = f"{r['count']} single" if r["per"] <= 1 else f"{r['count']} in groups of {r['per']}"
        kind += r.get("variant", "")
        lines.append(
            f"| {kind} | {len(where)} | {broker} | {stations} | {r.get('broker_endpoint', '-')} | "
            f"{', '.join(f'{k} {v}' for k, v in sorted(r.get('states', {}).items())) or '-'} | "
            f"{heard} / {r['count']} | {r.get('messages', '-')} / {r.get('expected_messages', '-')} "
            f"({r.get('per_min', '-')}-{r.get('per_max', '-')}) | "
            f"{r.get('before_subscribed', '-')} | {r.get('gaps', '-')} | {r.get('monotonic', '-')} / {heard} | "
            f"{fmt_s(r.get('all_heard_s'))} | {fmt_s(r.get('up_s'))} | "
            f"{wire or '-'} | {'ok' if r.get('down_ok') else 'FAILED'} |")
    for r in rounds:
        if r.get("error"):
            lines.append(f"\n{r['label']}: ERROR {r['error']}")
        for err in r.get("errors", []):
            lines.append(f"\n{r['label']}: task error: {err}")
        for warning in r.get("warnings", []):
            lines.append(f"\n{r['label']}: `make swarm-up` printed: {warning}")
    lines += ["", *notes, "", "Teardown: " + ("everything removed (swarm left, engines stopped, namespaces, cgroups, "
                                              "sockets and folders)." if not teardown else "; ".join(teardown))]
    return "\n".join(lines) + "\n"


def bench(args: argparse.Namespace) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _stop)
    if not args.skip_build:
        build_images()
    work = Path(tempfile.mkdtemp(prefix="wf-nodes-", dir="/var/tmp"))
    work.chmod(0o755)
    lab = NetnsSwarm(args.nodes, work)
    rounds: list[dict[str, Any]] = []
    notes: list[str] = []
    teardown: list[str] = []
    try:
        lab.preflight()
        lab.wire()
        lab.start_engines()
        t = time.monotonic()
        lab.load_images([STATION_IMAGE], lab.hosts)
        lab.load_images([MOSQUITTO_IMAGE], [lab.manager])
        notes.append(f"Images copied with docker save | docker load in {time.monotonic() - t:.0f} s: {STATION_IMAGE}"
                     f" to every engine, {MOSQUITTO_IMAGE} to the manager only.")
        lab.form_swarm()
        ids = lab.node_ids()
        lab.manager.docker("node", "update", "--label-add", "weather-fleet.broker=true", ids[lab.manager.name])
        for h in lab.workers:
            lab.manager.docker("node", "update", "--label-add", "weather-fleet.stations=true", ids[h.name])
        data = short_lab_files(Path(args.data_dir), work / "isd", args.lines,
                               fallback=REPO / "tests" / "data" / "isd")
        notes.append(f"DATA_DIR {data} (the lab's five station-years, first {args.lines} records each, 0755/0644), "
                     f"the same path on every host (the namespaces share the file system). INTERVAL=0.25, LOOP=false.")
        run_round(lab, work, data, "single", args.count, 1, args.timeout, rounds)
        if args.per_container > 1:
            run_round(lab, work, data, "groups", args.count, args.per_container, args.timeout, rounds)
        if args.missing_image and len(lab.workers) > 1:
            # What REGISTRY-less deploys risk: a stations node that lacks the station image.
            last = lab.workers[-1]
            last.docker("image", "rm", STATION_IMAGE)
            run_round(lab, work, data, "noimage", args.count, 1, args.missing_timeout, rounds,
                      variant=f", {STATION_IMAGE} removed from {last.name}")
    except (LabError, Stopped, KeyboardInterrupt) as exc:
        notes.append(f"STOPPED: {type(exc).__name__}: {exc}")
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the teardown short
        teardown = lab.close()
        write_report(OUT, report(lab, rounds, teardown, notes).splitlines())
    ok = rounds and all(r.get("heard") == r["count"] and not r.get("error") for r in rounds
                        if not r.get("variant")) and not teardown
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "data"))
    ap.add_argument("--nodes", type=int, default=3, choices=(2, 3, 4))
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--per-container", type=int, default=10)
    ap.add_argument("--lines", type=int, default=160, help="records per station-year file (~40 s at 0.25 s)")
    ap.add_argument("--timeout", type=float, default=300, help="per round, for the monitor")
    ap.add_argument("--no-missing-image", dest="missing_image", action="store_false",
                    help="skip the last round (the station image removed from the last worker)")
    ap.add_argument("--missing-timeout", type=float, default=150, help="the monitor's limit in that round")
    ap.add_argument("--skip-build", action="store_true", help="use the images already on the main engine")
    ap.add_argument("--monitor", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--fleet-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=BROKER_PORT, help=argparse.SUPPRESS)
    ap.add_argument("--expect", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.monitor:
        print(json.dumps(monitor(args.fleet_dir, args.port, args.expect, args.timeout, quiet=8.0)))
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
