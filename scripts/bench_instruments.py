"""What faults and metrics cost the engine, per message, at N stations (issue 20: <= 5 % more CPU per message with
a scenario touching 10 % of the stations; issue 21: <= 3 % with metrics on).

N engine lanes (default 1,000, as in `make bench-density`) replay one real ISD file from the message cache, LOOP,
INTERVAL=0, through a publisher that acknowledges at once: per message the group's own work (publish: splice,
step, count; advance; absorb) and nothing of awscrt or the broker, so the ratios are upper bounds of what the
instruments add to a real group container's CPU per message (there the TLS publish costs several times more).
Configurations `none`, `faults` (a scenario selecting 10 % of the stations: duplicates, delays, clock skew,
malformed) and `metrics` (METRICS_PORT on, no scrape) run in alternating rounds in this one process; each
reports its median CPU seconds (process time) per 1,000 messages, and the ratios of the medians, with the load
average before and after. Usage: python scripts/bench_instruments.py [--data-dir DIR] [--stations 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from station.engine.cache import open_cache
from station.engine.feed import CacheFeed
from station.engine.instruments import Instruments
from station.engine.lane import Lane
from station.faults import open_faults
from station.metrics import StationMetrics
from station.publisher import Completion
from station.scheduler import Pacer

SCENARIO = """
seed: 9
rules:
  - {kind: duplicate, select: {fraction: 0.1}, when: {probability: 0.02}}
  - {kind: delay, seconds: 0.5, select: {fraction: 0.1}, when: {probability: 0.01}}
  - {kind: clock_skew, offset: 30, select: {fraction: 0.1}, when: {probability: 0.02}}
  - {kind: malformed, select: {fraction: 0.1}, when: {probability: 0.005}}
"""


class AckingPublisher:
    """Acknowledges every publish at once (the engine's side of a publish, without the network)."""

    __slots__ = ("_done", "connected", "connect_count", "inflight")

    def __init__(self) -> None:
        self._done: list[Completion] = []
        self.connected, self.connect_count, self.inflight = True, 1, 0

    def publish(self, payload: bytes, token: Any) -> None:
        self._done.append(Completion(token, True, None))

    def drain_completions(self) -> list[Completion]:
        out, self._done = self._done, []
        return out


def lanes_for(config: str, n: int, cache: Any, data: Path, work: Path) -> list[Lane]:
    instruments = Instruments()
    if config == "faults":
        scenario = work / "faults.yaml"
        scenario.write_text(SCENARIO)
        instruments.faults = open_faults(scenario, work / config, "bench", started_at=time.time())
    elif config == "metrics":
        instruments.metrics = StationMetrics("bench")
    lanes = []
    for i in range(n):
        lane = Lane(f"bench-station-{i}", data, work / config / f"s{i}")
        instruments.attach(lane)
        lane.publisher = AckingPublisher()
        lane.resume(CacheFeed(cache), "sha256:bench", start_at=None, loop=True)
        lane.begin(Pacer(interval=0.0), loop=True)
        lanes.append(lane)
    return lanes


def round_cpu(lanes: list[Lane], per_lane: int) -> float:
    """CPU seconds per 1,000 messages for `per_lane` messages of every lane (the group's order: a message each)."""
    now = datetime.now(timezone.utc)
    start = time.process_time()
    for _ in range(per_lane):
        for lane in lanes:
            lane.publish(now, None, 0.0004)
            lane.advance(loop=True)
        for lane in lanes:
            lane.absorb("sensor/weather")
            lane.release()
    return (time.process_time() - start) / (per_lane * len(lanes)) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or "data"))
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=40, help="messages per station per round")
    args = parser.parse_args()
    data = sorted(args.data_dir.glob("*.gz"))[0]
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-instruments-") as tmp:
        work = Path(tmp)
        cache, _ = open_cache(data, work / "cache", shifted=False, on_problem=lambda *a: None)
        configs = ("none", "faults", "metrics")
        lanes = {c: lanes_for(c, args.stations, cache, data, work) for c in configs}
        for c in configs:
            round_cpu(lanes[c], 2)  # warm up
        results: dict[str, list[float]] = {c: [] for c in configs}
        for r in range(args.rounds):
            order = configs if r % 2 == 0 else tuple(reversed(configs))
            for c in order:
                results[c].append(round_cpu(lanes[c], args.per_round))
        cache.close()
    med = {c: statistics.median(v) for c, v in results.items()}
    print(f"# Instruments: CPU per 1,000 messages at {args.stations} stations ({args.rounds} alternating rounds of "
          f"{args.per_round} messages a station; load {load0:.1f} before, {os.getloadavg()[0]:.1f} after)")
    for c in configs:
        print(f"{c:8s} median {med[c] * 1000:.1f} ms / 1,000 msgs (rounds: "
              f"{', '.join(f'{v * 1000:.1f}' for v in results[c])})")
    print(f"faults / none  = {med['faults'] / med['none']:.3f} (target <= 1.05)")
    print(f"metrics / none = {med['metrics'] / med['none']:.3f} (target <= 1.03)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
