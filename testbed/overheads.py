"""What the fault machinery and the metrics cost a group fleet: the variants `make bench-density` runs at one N and
one rate, and how their rounds are ordered and summed up (scripts/bench_density.py runs them).

Variants (the same fleet, rate and window; only these differ):
- `none`: FLEET_METRICS=false, no FAULTS: the bare engine;
- `faults`: FLEET_METRICS=false, FAULTS=<scenario> (contracts/faults/bench-tenth.yaml: 10 % of the stations);
- `metrics`: FLEET_METRICS=true, no FAULTS, every group scraped as Prometheus would (`Scraper`).

Invariant: a round's CPU figure is the groups' cgroup CPU-seconds per 1,000 acknowledged messages; the cost of a
variant is the median of its rounds over the median of `none`'s (rounds interleaved, in a rotated order per
repeat, so a drift of the shared host's load falls on every variant alike).
"""

from __future__ import annotations

import io
import json
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


def round_order(repeats: int) -> list[str]:
    """Every variant once per repeat, the order rotated by one each repeat (none, faults, metrics, then faults,
    metrics, none, ...)."""
    return [VARIANTS[(r + i) % len(VARIANTS)] for r in range(repeats) for i in range(len(VARIANTS))]


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
                    with urllib.request.urlopen(f"http://{address}:{STATION_METRICS_PORT}/metrics", timeout=3) as r:
                        self.samples[address] = r.read().decode()
                    self.ok += 1
                except OSError:
                    self.failed += 1

    def stop(self) -> dict[str, int]:
        self._stop.set()
        self._thread.join(10)
        return {"scrapes": self.ok, "scrape_failures": self.failed}


def serves_metrics(address: str) -> bool:
    """Whether a container answers on the station metrics port (a variant without metrics must not)."""
    try:
        with urllib.request.urlopen(f"http://{address}:{STATION_METRICS_PORT}/metrics", timeout=3):
            return True
    except OSError:
        return False


def summarize(rows: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per variant: its rounds' CPU-s per 1,000 messages, their median, and the median's ratio to `none`'s (with
    the target the issue sets, and whether it is met)."""
    per: dict[str, list[float]] = {v: [r["cpu_per_1000"] for r in rows if r["variant"] == v and r.get("cpu_per_1000")]
                                   for v in VARIANTS}
    base = statistics.median(per["none"]) if per["none"] else None
    out: dict[str, dict[str, Any]] = {}
    for variant, values in per.items():
        median = statistics.median(values) if values else None
        ratio = median / base if median is not None and base else None
        target = TARGETS.get(variant)
        out[variant] = {"rounds": values, "median": median, "ratio": ratio, "target": target,
                        "met": None if target is None or ratio is None else ratio <= target}
    return out

