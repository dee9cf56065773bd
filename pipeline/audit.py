"""`pipeline audit`: what reached the local lake, against what the fleet knows it sent (issue 20).

Inputs: the lake (every record's thing_name, seq, publisher and sent_at, read with DuckDB), its ledger (arrival
time of each stored key), the errors/ and quarantine/ prefixes, and the stations' state folders: checkpoints
(`fleetcore.faults.fleet_state`: seqs 1..acked_through were acknowledged by the broker) and ground-truth logs
(`fleetcore.faults.truth`).

Per station, and in total:
- expected: the acknowledged seqs, less those dropped at the source (offline, drop) and those the station sent
  malformed (expected under errors/, not in the lake); stored: distinct seqs in the lake as the station's own data;
  missing: expected and not stored, a loss in the pipeline;
- duplicates stored (rows beyond the first for one seq), out-of-order arrivals (a seq received after a greater
  one), late arrivals (received more than `late_after` seconds after sent_at), end-to-end latency percentiles
  (received_at - sent_at, clock-skewed messages left out);
- per fault kind: injected, and what the pipeline did (stored, rejected under errors/ or quarantine/).
The audit fails (`Audit.failed`) when an expected message is missing, or a malformed or forged message was stored
as data (a lake record whose publisher is not its thing_name counts as forged).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from fleetcore.faults.fleet_state import read_station_states
from fleetcore.faults.scenario import DeviceFault, OfflineMode
from fleetcore.faults.truth import FaultTally, read_truth, truth_files
from pipeline.lake import ERRORS_DIR, QUARANTINE_DIR, lake_files
from pipeline.query import ledger_rows
from pipeline.settings import PipelineSettings

AUDIT_FAILED = 3  # the exit code of `pipeline audit` when the audit fails (1 and 2 keep their meaning)
LATE_AFTER_S = 60.0


@dataclass
class KindOutcome:
    injected: int = 0   # messages (duplicate: extra copies sent; offline drop: dropped at the source)
    stored: int = 0     # of those, stored in the lake (duplicate: extra copies stored)
    rejected: int = 0   # kept under errors/ or quarantine/ (malformed, impersonate)


@dataclass
class StationAudit:
    thing: str
    acked_through: int = 0
    expected: int = 0
    stored: int = 0
    missing: int = 0
    missing_seqs: list[list[int]] = field(default_factory=list)  # [first, last] runs
    stored_beyond_checkpoint: int = 0
    duplicates_stored: int = 0
    out_of_order: int = 0
    late: int = 0
    errors: int = 0       # records under errors/ published by this thing
    quarantined: int = 0  # records under quarantine/ published by this thing
    malformed_stored: int = 0
    forged_stored: int = 0  # lake records naming this thing that it did not publish
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    faults: dict[str, KindOutcome] = field(default_factory=dict)


@dataclass
class Audit:
    stations: list[StationAudit]
    total: StationAudit
    fleet_faults: list[dict]
    source: str = "local"  # "local" (DuckDB over LAKE_DIR) or "athena" (pipeline.aws.audit)
    notes: list[str] = field(default_factory=list)  # what this source could not compute; what missing seqs suggest

    @property
    def failed(self) -> bool:
        return bool(self.total.missing or self.total.malformed_stored or self.total.forged_stored)

    def to_json(self) -> dict:
        return {"failed": self.failed, "source": self.source, "notes": self.notes, "total": asdict(self.total),
                "stations": [asdict(s) for s in self.stations], "fleet_faults": self.fleet_faults}


def _runs(seqs: Iterable[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for seq in sorted(seqs):
        if runs and seq == runs[-1][1] + 1:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq])
    return runs


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 1)}


def _lake_rows(settings: PipelineSettings) -> list[tuple[str, int, str | None, str | None]]:
    """(thing_name, seq, publisher, sent_at) of every lake record."""
    if not lake_files(settings.lake_root):
        return []
    pattern = str(settings.lake_root.resolve() / "*" / "*" / "*" / "*" / "*.gz").replace("'", "''")
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT thing_name, seq, publisher, sent_at FROM read_json('{pattern}', format = 'newline_delimited', "
            "columns = {'thing_name': 'VARCHAR', 'seq': 'BIGINT', 'publisher': 'VARCHAR', 'sent_at': 'VARCHAR'})"
        ).fetchall()
    finally:
        con.close()


def _side_records(settings: PipelineSettings, folder: str) -> list[dict]:
    records = []
    for path in sorted((settings.lake_dir / folder / settings.lake_prefix).rglob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            records += [json.loads(line) for line in fh if line.strip()]
    return records


def _claimed_thing(raw: str) -> str | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc.get("thing_name") if isinstance(doc, dict) else None


def _seconds(text: str | None) -> float | None:
    """Unix seconds of an ISO time; one without an offset is UTC (sent_at always is; Athena may print it bare)."""
    try:
        value = datetime.fromisoformat(text) if text else None  # type: ignore[arg-type]
    except ValueError:
        return None
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)).timestamp()


@dataclass
class LakeView:
    """What a lake holds, as the audit needs it (the local lake, or Athena over the S3 lake: pipeline.aws.audit)."""

    rows: list[tuple[str, int, str | None, str | None]]  # (thing_name, seq, publisher, sent_at), one per record
    arrivals: dict[str, dict[int, float]]                # thing -> seq -> arrival (Unix s); empty: not known
    errors: Counter                                      # records under errors/, by publisher
    quarantine: list[dict]                               # quarantined records: {"publisher", "raw"}


def local_view(settings: PipelineSettings) -> LakeView:
    """The local lake: its files (DuckDB), its ledger's arrival times, errors/ and quarantine/."""
    arrivals: dict[str, dict[int, float]] = defaultdict(dict)
    for thing, seq, received_at in ledger_rows(settings.state_dir / "ledger.sqlite3"):
        arrivals[thing][seq] = datetime.fromisoformat(received_at).timestamp()
    errors = Counter(r.get("publisher") for r in _side_records(settings, ERRORS_DIR))
    return LakeView(_lake_rows(settings), arrivals, errors, _side_records(settings, QUARANTINE_DIR))


def run_audit(settings: PipelineSettings, state_dirs: list[Path], late_after: float = LATE_AFTER_S) -> Audit:
    return audit_view(local_view(settings), state_dirs, late_after)


def audit_view(view: LakeView, state_dirs: list[Path], late_after: float = LATE_AFTER_S) -> Audit:
    """The audit of `view` against the stations' state folders."""
    states = read_station_states(state_dirs)
    tally = FaultTally.of(read_truth(truth_files(state_dirs)))
    rows_by_thing: dict[str, list[tuple[int, str | None, str | None]]] = defaultdict(list)
    for thing, seq, publisher, sent_at in view.rows:
        rows_by_thing[thing].append((seq, publisher, sent_at))
    arrivals, errors, quarantine = view.arrivals, view.errors, view.quarantine
    quarantined = Counter(r.get("publisher") for r in quarantine)
    forgeries_quarantined = Counter(r.get("publisher") for r in quarantine
                                    if _claimed_thing(r.get("raw", "")) not in (None, r.get("publisher")))
    things = sorted(set(states) | tally.things())
    stations, latencies = [], []
    for thing in things:
        station, station_latencies = _station(thing, states.get(thing), tally, rows_by_thing, arrivals.get(thing, {}),
                                              errors[thing], quarantined[thing], forgeries_quarantined[thing],
                                              late_after)
        stations.append(station)
        latencies += station_latencies
    total = StationAudit("total")
    for s in stations:
        for name in ("acked_through", "expected", "stored", "missing", "stored_beyond_checkpoint",
                     "duplicates_stored", "out_of_order", "late", "errors", "quarantined", "malformed_stored",
                     "forged_stored"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
        for kind, outcome in s.faults.items():
            t = total.faults.setdefault(kind, KindOutcome())
            t.injected, t.stored, t.rejected = (t.injected + outcome.injected, t.stored + outcome.stored,
                                                t.rejected + outcome.rejected)
    # Records naming a thing that is not in the fleet's state (e.g. a forged '<thing>-forged') are forged too.
    known = set(things)
    for thing, rows in rows_by_thing.items():
        if thing not in known:
            total.forged_stored += sum(1 for _, publisher, _ in rows if publisher != thing)
    total.latency_ms = _percentiles(latencies)
    fleet = [{"t": e.t, "thing": e.thing, "kind": e.kind, "params": e.params} for e in tally.events]
    audit = Audit(stations, total, fleet)
    audit.notes = missing_hints(stations)
    return audit


def missing_hints(stations: list[StationAudit]) -> list[str]:
    """What a pattern of missing seqs most likely means, for the notes (the verdict stays: they are not in the
    lake): the first seqs of stations whose later ones are stored were published before the lake writer
    subscribed; the last acknowledged ones may still be in a running lake writer's buffer."""
    head = [s for s in stations if s.missing_seqs and s.missing_seqs[0][0] == 1 and s.stored]
    tail = [s for s in stations if s.missing_seqs and s.missing_seqs[-1][1] == s.acked_through and s.stored
            and s.missing_seqs[-1][0] > 1]
    hints = []
    if head:
        hints.append(f"{len(head)} station(s) miss their first messages (from seq 1) while later ones are stored: "
                     "they were published before the lake writer subscribed (start it first: `make lake-up`, "
                     "then `make up`)")
    if tail:
        hints.append(f"{len(tail)} station(s) miss their last acknowledged messages: a lake writer still running "
                     "holds them in its buffer until its next flush (audit after `make lake-down` or `make down`, "
                     "which flush it)")
    return hints


def _station(thing: str, state, tally: FaultTally, rows_by_thing: dict, arrived: dict[int, float], errors: int,
             quarantined: int, forgeries_quarantined: int, late_after: float) -> tuple[StationAudit, list[float]]:
    s = StationAudit(thing, acked_through=state.acked_through if state else 0, errors=errors, quarantined=quarantined)
    rows = rows_by_thing.get(thing, [])
    own = [(seq, sent_at) for seq, publisher, sent_at in rows if publisher == thing]
    s.forged_stored = len(rows) - len(own)
    counts = Counter(seq for seq, _ in own)
    stored = set(counts)
    s.stored = len(stored)
    s.duplicates_stored = sum(n - 1 for n in counts.values())
    dropped = {seq for seq, p in tally.iter_params(thing, DeviceFault.OFFLINE) if p.get("mode") == OfflineMode.DROP}
    malformed = tally.of_kind(thing, DeviceFault.MALFORMED)
    expected = set(range(1, s.acked_through + 1)) - dropped - malformed
    s.expected = len(expected)
    missing = expected - stored
    s.missing, s.missing_seqs = len(missing), _runs(missing)
    s.stored_beyond_checkpoint = sum(1 for seq in stored if seq > s.acked_through)
    s.malformed_stored = len(malformed & stored)
    highest = -1
    for seq, _ in sorted(arrived.items(), key=lambda item: (item[1], item[0])):
        if seq < highest:
            s.out_of_order += 1
        highest = max(highest, seq)
    skewed = tally.of_kind(thing, DeviceFault.CLOCK_SKEW)
    latencies = []
    for seq, sent_at in own:
        sent, received = _seconds(sent_at), arrived.get(seq)
        if sent is None or received is None or seq in skewed:
            continue
        latency = received - sent
        latencies.append(latency * 1000)
        s.late += latency > late_after
    s.latency_ms = _percentiles(latencies)
    for kind in DeviceFault:
        seqs = tally.of_kind(thing, kind)
        if not seqs:
            continue
        outcome = KindOutcome(injected=len(seqs), stored=len(seqs & stored))
        if kind is DeviceFault.DUPLICATE:
            outcome.injected = sum(p.get("copies", 1) for _, p in tally.iter_params(thing, kind))
            outcome.stored = sum(counts[seq] - 1 for seq in seqs if counts[seq] > 1)
        elif kind is DeviceFault.MALFORMED:
            outcome.rejected = errors + quarantined - forgeries_quarantined
        elif kind is DeviceFault.IMPERSONATE:
            victims = {(p.get("victim"), seq) for seq, p in tally.iter_params(thing, kind)}
            outcome.stored = sum(1 for victim, seq in victims for row in rows_by_thing.get(victim, [])
                                 if row[0] == seq and row[1] == thing)
            outcome.rejected = forgeries_quarantined
        elif kind is DeviceFault.OFFLINE:
            outcome.stored = len((seqs - dropped) & stored)
        s.faults[kind.value] = outcome
    return s, latencies


def format_audit(audit: Audit) -> str:
    """A plain-text table per station and in total, the faults by kind, and the verdict."""
    columns = ("thing", "acked_through", "expected", "stored", "missing", "duplicates_stored", "out_of_order",
               "late", "errors", "quarantined", "malformed_stored", "forged_stored")
    head = ("station", "acked", "expected", "stored", "missing", "dup stored", "out of order", "late", "errors",
            "quarantined", "malformed stored", "forged stored")
    rows = [[str(getattr(s, c)) for c in columns] for s in audit.stations + [audit.total]]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    lat = audit.total.latency_ms
    lines.append("")
    lines.append("end-to-end latency (ms): " + ", ".join(f"{k} {'-' if v is None else v}" for k, v in lat.items()))
    if audit.total.faults:
        lines.append("faults injected -> what the pipeline did:")
        for kind, o in sorted(audit.total.faults.items()):
            lines.append(f"  {kind:16} sent {o.injected:6}  stored {o.stored:6}  rejected {o.rejected:6}")
    for event in audit.fleet_faults:
        lines.append(f"  fleet: {event['kind']} {event['thing']} {event['params']}")
    for s in audit.stations:
        if s.missing_seqs:
            shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in s.missing_seqs[:10])
            lines.append(f"MISSING {s.thing}: seqs {shown}{' ...' if len(s.missing_seqs) > 10 else ''}")
    lines += [f"note: {note}" for note in audit.notes]
    verdict = ("FAILED: the pipeline lost acknowledged messages or stored malformed / forged ones as data"
               if audit.failed else "OK: every acknowledged message is in the lake once; nothing forged or "
               "malformed was stored")
    lines.append(verdict)
    return "\n".join(lines) + "\n"
