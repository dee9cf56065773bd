"""What the fault machinery and the metrics cost a group fleet: the variants `make bench-density` runs side by side
at one N and one rate, and how their windows are summed up (scripts/bench_density.py runs them).

Variants (three fleets of the same N, rate and data, each in its own compose project with its own broker, running
at the same time; only these settings differ):
- `none`: FLEET_METRICS=false, no FAULTS: the bare engine;
- `faults`: FLEET_METRICS=false, FAULTS=<scenario> (contracts/faults/bench-tenth.yaml: 10 % of the stations);
- `metrics`: FLEET_METRICS=true, no FAULTS, every group scraped as Prometheus would (`Scraper`).

Invariant: a window's CPU figure is the CPU time of the group processes themselves (`station run`, all threads,
read from the host's /proc: not the container's cgroup, which also bills the 15 s healthcheck's Python start-up
to it) per 1,000 acknowledged messages. The fleets run together, so whatever else the shared host does falls on
all three alike; a fleet's own bias (where its processes land on the cores) is cancelled by moving the variants
from fleet to fleet between placements: the cost of a variant is the geometric mean over the windows of its
figure over `none`'s in the same window.
"""

from __future__ import annotations

import io
import json
import math
import os
import statistics
import subprocess
import tarfile
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

VARIANTS = ("none", "faults", "metrics")
TARGETS = {"faults": 1.05, "metrics": 1.03}  # issue 20: <= 5 % more CPU per message; issue 21: <= 3 %
STATION_METRICS_PORT = 9101
SCRAPE_INTERVAL_S = 5.0  # PROMETHEUS_SCRAPE_INTERVAL's default


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float:
    """User + system CPU seconds of process `pid` (every thread), from /proc/<pid>/stat."""
    text = (proc / str(pid) / "stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14 and 15 of stat


def apply_variant(env: MutableMapping[str, str], variant: str, scenario: Path) -> None:
    """Set `env` (the fleet's `make up` environment) for `variant`."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} (one of {', '.join(VARIANTS)})")
    env.pop("FAULTS", None)
    env["FLEET_METRICS"] = "true" if variant == "metrics" else "false"
    if variant == "faults":
        env["FAULTS"] = str(scenario)


def injected_by_kind(truth_text: str) -> dict[str, int]:
    """Faults per kind in ground-truth lines (`fleetcore.faults.truth`): the sum of each line's `n` (1 without
    seqs); `start` lines are not faults."""
    tally: Counter[str] = Counter()
    for line in truth_text.splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)
        if doc["kind"] != "start":
            tally[doc["kind"]] += int(doc.get("n", 1))
    return dict(sorted(tally.items()))


def container_truth(container: str) -> str:
    """The ground-truth logs (`*.faults.jsonl`) of a container's /state, read with `docker cp` (the container may
    be stopped)."""
    out = subprocess.run(["docker", "cp", f"{container}:/state", "-"], capture_output=True, timeout=120)
    if out.returncode != 0:
        return ""
    texts = []
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".faults.jsonl"):
                texts.append(tar.extractfile(member).read().decode())  # type: ignore[union-attr]
    return "".join(texts)


class Scraper:
    """Scrapes every group's /metrics every `interval` seconds from this host (container addresses on the
    fleet's bridge network), as the fleet's Prometheus would, until `stop()`; `targets()` gives the addresses
    (None while the groups are not up yet: asked again next time)."""

    def __init__(self, targets: Callable[[], list[str] | None], interval: float = SCRAPE_INTERVAL_S) -> None:
        self._targets, self.interval = targets, interval
        self.ok = self.failed = 0
        self.samples: dict[str, str] = {}  # address -> the latest exposition
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def start(self) -> Scraper:
        self._thread.start()
        return self

    def _run(self) -> None:
        addresses: list[str] | None = None
        while not self._stop.wait(self.interval):
            if not addresses:
                addresses = self._targets()
                continue
            for address in addresses:
                try:
                    self.samples[address] = scrape(address)
                    self.ok += 1
                except OSError:
                    self.failed += 1

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join(10)
        return {"scrapes": self.ok, "scrape_failures": self.failed}


def scrape(address: str) -> str:
    """The station metrics exposition of the process at `address` (OSError when nothing answers)."""
    with urllib.request.urlopen(f"http://{address}:{STATION_METRICS_PORT}/metrics", timeout=3) as r:
        return r.read().decode()


def serves_metrics(address: str) -> bool:
    """Whether a container answers on the station metrics port (a variant without metrics must not)."""
    try:
        scrape(address)
    except OSError:
        return False
    return True


def summarize(rows: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant: its windows' CPU-s per 1,000 messages and their median, each window's ratio to `none`'s in the
    same window, and their geometric mean (with the target the issue sets, and whether it is met)."""
    windows = sorted({r["window"] for r in rows})
    cpu = {(r["variant"], r["window"]): r.get("cpu_per_1000") for r in rows}
    out: dict[str, dict[str, Any]] = {}
    for variant in VARIANTS:
        values = [v for v in (cpu.get((variant, w)) for w in windows) if v]
        ratios = [v / b for v, b in ((cpu.get((variant, w)), cpu.get(("none", w))) for w in windows) if v and b]
        ratio = math.exp(statistics.fmean(math.log(x) for x in ratios)) if ratios else None
        target = TARGETS.get(variant)
        out[variant] = {"windows": values, "median": statistics.median(values) if values else None,
                        "ratios": ratios, "ratio": ratio, "target": target,
                        "met": None if target is None or ratio is None else ratio <= target}
    return out
