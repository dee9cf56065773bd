"""The ground truth: every injected fault, as it happens, in a compact append-only log per process.

File: `<state dir>/<process>.faults.jsonl` (a station's STATE_DIR, one per station or group process; the chaos
runner's own for fleet faults). One JSON object per line:

    {"t": 1718000000.123, "thing": "station-3", "kind": "duplicate", "rule": 0, "seqs": [120, 131], "n": 12,
     "params": {"copies": 1}}

- `t` wall time (Unix seconds) of the first fault of the line; `thing` the station (or container / `broker` for
  a fleet fault); `kind` a `DeviceFault` or `FleetFault` value, or `start` (a process began: `params` holds the
  scenario's seed and name); `rule` the rule's index (absent for fleet faults);
- `seqs` [first, last] and `n`: the run of consecutive seqs the same rule acted on with the same `params`
  (a device fault); normal messages are never written, and a run of faults is one line, not one per message;
- `params` the rule's parameters plus what was decided for these messages (e.g. the malformation chosen).

Durability: `GroundTruthLog.flush()` writes and fsyncs every open run. The engine calls it before it saves a
checkpoint, so a fault on a seq the checkpoint covers is on disk; a `kill -9` loses at most faults on seqs after
the checkpoint, which the restarted station sends (and injects, and records) again. A restart may thus record a
seq twice: `read_truth` merges runs, and `FaultTally` counts each (thing, kind, seq) once.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = ".faults.jsonl"
START = "start"
AUTO_FLUSH_RUNS = 512  # open runs kept before a flush is forced


def truth_path(state_dir: Path, process: str) -> Path:
    return Path(state_dir) / f"{process}{SUFFIX}"


@dataclass
class _Run:
    t: float
    thing: str
    kind: str
    rule: int | None
    first: int | None
    last: int | None
    params: dict

    def line(self) -> str:
        doc: dict = {"t": round(self.t, 3), "thing": self.thing, "kind": self.kind}
        if self.rule is not None:
            doc["rule"] = self.rule
        if self.first is not None:
            doc["seqs"] = [self.first, self.last]
            doc["n"] = self.last - self.first + 1  # type: ignore[operator]
        if self.params:
            doc["params"] = self.params
        return json.dumps(doc, separators=(",", ":"), sort_keys=False) + "\n"


class GroundTruthLog:
    """The append-only log of one process; thread-safe. Open runs are coalesced in memory until `flush`."""

    def __init__(self, path: Path, *, clock=time.time) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()       # the open runs and pending lines
        self._file_lock = threading.Lock()  # one flush at a time, in order
        self._open: dict[tuple[str, int | None, str], _Run] = {}
        self._lines: list[str] = []
        self.recorded = 0  # fault events recorded by this process (messages or actions)

    def start(self, **params: object) -> None:
        """Mark a process start (seed, scenario name...), written at once."""
        with self._lock:
            self._lines.append(_Run(self._clock(), "", START, None, None, None, dict(params)).line())
        self.flush()

    def record(self, thing: str, kind: str, seq: int | None, params: dict, rule: int | None = None,
               t: float | None = None) -> None:
        """One fault on `seq` of `thing` (None: not tied to a message, e.g. a fleet fault)."""
        now = self._clock() if t is None else t
        key = (thing, rule, kind)
        with self._lock:
            self.recorded += 1
            run = self._open.get(key)
            if run is not None and seq is not None and run.last is not None and seq == run.last + 1 \
                    and run.params == params:
                run.last = seq
                return
            if run is not None:
                self._lines.append(run.line())
            self._open[key] = _Run(now, thing, kind, rule, seq, seq, params)
            if seq is None:
                self._lines.append(self._open.pop(key).line())
            force = len(self._open) >= AUTO_FLUSH_RUNS
        if force:
            self.flush()

    def flush(self) -> None:
        """Write every open run and pending line, then fsync (call before saving a checkpoint). `record` waits only
        for the hand-over of the lines, never for the disk; concurrent flushes write in the order they took them."""
        with self._file_lock:
            with self._lock:
                lines = self._lines + [run.line() for run in self._open.values()]
                self._lines, self._open = [], {}
            if not lines:
                return
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write("".join(lines))
                fh.flush()
                os.fsync(fh.fileno())

    close = flush


@dataclass(frozen=True)
class TruthRecord:
    t: float
    thing: str
    kind: str
    rule: int | None
    seqs: tuple[int, int] | None
    params: dict

    @property
    def n(self) -> int:
        return self.seqs[1] - self.seqs[0] + 1 if self.seqs else 1


def truth_files(folders: Iterable[Path]) -> list[Path]:
    """Every ground-truth log in `folders` (each searched recursively)."""
    return sorted(p for folder in folders for p in Path(folder).rglob(f"*{SUFFIX}"))


def read_truth(paths: Iterable[Path]) -> list[TruthRecord]:
    """Every record in `paths`, in file then line order; a torn last line (a crash mid-write) is skipped."""
    records = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            seqs = tuple(doc["seqs"]) if "seqs" in doc else None
            records.append(TruthRecord(doc["t"], doc["thing"], doc["kind"], doc.get("rule"), seqs,  # type: ignore[arg-type]
                                       doc.get("params", {})))
    return records


@dataclass
class FaultTally:
    """Per (thing, kind): the distinct seqs faulted, and the events (actions, fleet faults) not tied to a seq."""

    seqs: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    params: dict[tuple[str, str, int], dict] = field(default_factory=dict)  # (thing, kind, seq) -> params
    events: list[TruthRecord] = field(default_factory=list)

    @classmethod
    def of(cls, records: Iterable[TruthRecord]) -> FaultTally:
        tally = cls()
        for r in records:
            if r.kind == START:
                continue
            if r.seqs is None:
                tally.events.append(r)
                continue
            bucket = tally.seqs.setdefault((r.thing, r.kind), set())
            for seq in range(r.seqs[0], r.seqs[1] + 1):
                bucket.add(seq)
                tally.params[(r.thing, r.kind, seq)] = r.params
        return tally

    def things(self) -> set[str]:
        return {thing for thing, _ in self.seqs}

    def of_kind(self, thing: str, kind: str) -> set[int]:
        return self.seqs.get((thing, kind), set())

    def iter_params(self, thing: str, kind: str) -> Iterator[tuple[int, dict]]:
        for seq in sorted(self.of_kind(thing, kind)):
            yield seq, self.params[(thing, kind, seq)]
