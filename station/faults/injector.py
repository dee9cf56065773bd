"""Device faults as a seeded transformation of one station's outgoing message stream (the engine's hook).

The engine calls `FaultInjector.step(seq, payload, at)` once per message it would publish (at one place, for a
single station and a group lane alike) and does exactly what the returned `Step` says:

- `emit`: publish each `Emission` now, in this order. A *primary* emission is the message of its `seq` (perhaps
  changed, perhaps late): its PUBACK resolves that seq for the checkpoint, as a normal message's does. An *extra*
  (a duplicate copy, a forged message) is published the same way but its acknowledgement resolves nothing.
- `dropped`: seqs dropped at the source (offline, mode drop). Never published; the engine resolves them at once
  as if acknowledged, so the checkpoint moves past them (a restart must not send them), and the ground truth
  says they were dropped (the audit expects them nowhere).
- `actions`: `ConnectionAction`s (disconnect, reconnect storm): close the connection now and reconnect after
  `down_s` seconds. Messages keep being stepped meanwhile (the client queues them); the engine must not fail or
  forget in-flight QoS 1 publishes: wait for them (or keep the session) before closing.

Every seq given to `step` is resolved exactly once: by the acknowledgement of its primary emission (from this
step, a later step, `release` or `drain`) or by `dropped`. Held seqs (offline buffer, delay, reorder) are not
acknowledged yet, so the engine must enter each seq in its in-order checkpoint tracking when it is stepped, not
when it is published: the checkpoint then never passes a held message, and a `kill -9` re-sends it after restart.

Besides `step`, the engine calls `release(now)` from its housekeeping (delayed messages whose time came) and, at
the end of the data, `drain()` (everything still held, e.g. an offline buffer). On a stop request it may skip
`drain`: held seqs stay unacknowledged and are sent again by the next run. Before each checkpoint save it calls
`GroundTruthLog.flush()` (see `fleetcore.faults.truth`).

Decisions are seeded per (seed, rule, thing, seq) (`fleetcore.faults.seeding`): the same scenario, fleet and
seed give the same faults, in any process and after a restart; only `window` (time since start) and `limit`
(per process) depend on the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fleetcore.faults.scenario import (
    SPIKE_DEFAULTS, ClockSkew, Delay, DeviceFault, DeviceRule, Disconnect, Duplicate, Impersonate, Malformation,
    Malformed, Missing, Offline, OfflineMode, ReconnectStorm, Reorder, Scenario, Spike, Stuck)
from fleetcore.faults.seeding import hash64, mix, unit
from fleetcore.faults.truth import GroundTruthLog
from station.faults import payload as msg

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class Emission:
    """One publish: `payload` for the station's `seq`; `primary` False for an extra copy or a forgery."""

    seq: int
    payload: bytes
    primary: bool = True


@dataclass(frozen=True, slots=True)
class ConnectionAction:
    """Close the connection now; reconnect `down_s` seconds later."""

    kind: DeviceFault  # DISCONNECT or RECONNECT_STORM
    down_s: float


@dataclass(slots=True)
class Step:
    emit: list[Emission] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    actions: list[ConnectionAction] = field(default_factory=list)


@dataclass(slots=True)
class _Held:
    seq: int
    payload: bytes
    extras: list[bytes]
    due: float | None = None    # delay: wall time it may go
    behind: int | None = None   # reorder: steps still to wait

    def emissions(self) -> list[Emission]:
        return [Emission(self.seq, self.payload)] + [Emission(self.seq, e, False) for e in self.extras]


class _Bound:
    """A rule bound to one station: its per-message test, with the rule's conditions and parameters read once
    (the test runs for every message of a faulted station)."""

    __slots__ = ("index", "rule", "base", "fired", "params", "always", "after", "until", "every", "limit",
                 "start", "end", "probability")

    def __init__(self, index: int, rule: DeviceRule, seed: int, thing: str) -> None:
        self.index, self.rule = index, rule
        self.base = hash64(seed, index, thing)
        self.fired = 0
        self.params = rule.parameters()  # recorded with every fault of the rule: never mutated
        w = rule.when
        self.after, self.until, self.every, self.limit, self.probability = \
            w.after, w.until, w.every, w.limit, w.probability
        self.start, self.end = (w.window.start, w.window.end) if w.window is not None else (None, None)
        self.always = all(v is None for v in (w.after, w.until, w.every, w.limit, w.probability, w.window))

    def acts(self, seq: int, elapsed: float) -> bool:
        if not self.always:
            if (self.after is not None and seq <= self.after) or (self.until is not None and seq > self.until) \
                    or (self.every is not None and seq % self.every) \
                    or (self.limit is not None and self.fired >= self.limit):
                return False
            if self.start is not None and (elapsed < self.start or (self.end is not None and elapsed >= self.end)):
                return False
            if self.probability is not None and mix(self.base, seq) >= self.probability:
                return False
        self.fired += 1
        return True


class FaultInjector:
    """The faults of one station (see the module docstring for the engine's contract)."""

    def __init__(self, thing: str, rules: list[tuple[int, DeviceRule]], seed: int, truth: GroundTruthLog,
                 started_at: float) -> None:
        self.thing, self.seed, self.truth, self.started_at = thing, seed, truth, started_at
        self._rules = [_Bound(i, r, seed, thing) for i, r in rules]
        self._buffer: list[_Held] = []     # offline, mode buffer
        self._delayed: list[_Held] = []
        self._reordered: list[_Held] = []
        self._previous: bytes | None = None  # the last stepped payload as the engine made it
        self._before: bytes | None = None    # the one before the current step's (stuck's source)
        self._stuck: dict[int, tuple[int, dict]] = {}  # rule index -> (last stuck seq, frozen values)

    @property
    def held(self) -> int:
        return len(self._buffer) + len(self._delayed) + len(self._reordered)

    def _record(self, bound: _Bound, seq: int, params: dict | None = None) -> None:
        self.truth.record(self.thing, bound.rule.kind.value, seq, params if params is not None else bound.params,
                          rule=bound.index)

    def step(self, seq: int, payload: bytes, at: float) -> Step:
        """What to do with message `seq` (`payload` as the engine made it), due at wall time `at`."""
        out = Step()
        if self._delayed:
            out.emit.extend(self._due(at))
        original, self._before, self._previous = payload, self._previous, payload
        fired = [b for b in self._rules if b.acts(seq, at - self.started_at)]
        for held in self._reordered:
            held.behind -= 1  # type: ignore[operator]
        first_offline = next((b for b in fired if isinstance(b.rule, Offline)), None)
        if first_offline is not None and first_offline.rule.mode is OfflineMode.DROP:  # type: ignore[union-attr]
            self._record(first_offline, seq)  # nothing else happens to a message that is never sent
            out.dropped.append(seq)
            return out
        offline: Offline | None = None
        route: _Bound | None = None
        doc: dict | None = None
        malformed: tuple[_Bound, Malformation] | None = None
        extras: list[Callable[[bytes, bytes, dict | None], list[bytes]]] = []  # (sent, before malformed, doc)
        for b in fired:
            rule = b.rule
            if isinstance(rule, Offline):
                if offline is None:
                    offline = rule
                    self._record(b, seq)
            elif isinstance(rule, (Delay, Reorder)):
                if route is None:
                    route = b
                    self._record(b, seq)
            elif isinstance(rule, Malformed):
                variant = rule.variant
                if variant is Malformation.ANY:
                    variant = msg.MALFORMATIONS[int(unit(self.seed, b.index, self.thing, seq, "variant") * 4)]
                malformed = (b, variant)
                self._record(b, seq, {"variant": variant.value})
            elif isinstance(rule, (Disconnect, ReconnectStorm)):
                down = rule.seconds
                if isinstance(rule, ReconnectStorm) and rule.spread:
                    down += round(unit(self.seed, b.index, self.thing, "spread") * rule.spread, 3)
                out.actions.append(ConnectionAction(rule.kind, down))
                self._record(b, seq, {"seconds": down})
            elif isinstance(rule, Duplicate):
                extras.append(lambda p, c, d, n=rule.copies: [p] * n)  # exactly what was sent
                self._record(b, seq)
            elif isinstance(rule, Impersonate):
                victim = rule.victim or f"{self.thing}-forged"
                extras.append(lambda p, c, d, v=victim: [msg.impersonate(d if d is not None else msg.decode(c), v)])
                self._record(b, seq, {"victim": victim})
            else:
                if doc is None:
                    doc = msg.decode(original)
                self._mutate(b, seq, at, doc)
        if doc is not None:
            payload = msg.encode(doc)
        clean = payload
        if malformed is not None:
            payload = msg.malform(payload, doc, malformed[1])
        copies = [e for make in extras for e in make(payload, clean, doc)]
        held = _Held(seq, payload, copies)
        if offline is None and self._buffer:  # back online: the buffer goes first, in one burst
            for item in self._buffer:
                out.emit.extend(item.emissions())
            self._buffer.clear()
        if offline is not None:
            self._buffer.append(held)
        elif route is not None and isinstance(route.rule, Delay):
            held.due = at + route.rule.seconds
            self._delayed.append(held)
        elif route is not None and isinstance(route.rule, Reorder):
            held.behind = route.rule.behind
            self._reordered.append(held)
        else:
            out.emit.extend(held.emissions())
        if self._reordered:
            ready = [h for h in self._reordered if h.behind <= 0]  # type: ignore[operator]
            if ready:
                self._reordered = [h for h in self._reordered if h.behind > 0]  # type: ignore[operator]
                for h in ready:
                    out.emit.extend(h.emissions())
        return out

    def _mutate(self, b: _Bound, seq: int, at: float, doc: dict) -> None:
        rule = b.rule
        if isinstance(rule, ClockSkew):
            msg.skew(doc, rule.fields, rule.offset + rule.drift * (at - self.started_at) / HOUR)
            self._record(b, seq)
        elif isinstance(rule, Stuck):
            last = self._stuck.get(b.index)
            if last is None or last[0] != seq - 1:  # a new run: freeze the values of the message before
                source = msg.decode(self._before) if self._before is not None else doc
                last = (seq, {f: msg.measurement(source, f) for f in rule.fields})
            self._stuck[b.index] = (seq, last[1])
            for f, value in last[1].items():
                msg.set_measurement(doc, f, value)
            self._record(b, seq, {**b.params, "values": {f.value: v for f, v in last[1].items()}})
        elif isinstance(rule, Spike):
            value = rule.value if rule.value is not None else SPIKE_DEFAULTS[rule.field]
            msg.set_measurement(doc, rule.field, value)
            self._record(b, seq, {"field": rule.field.value, "value": value})
        elif isinstance(rule, Missing):
            msg.missing(doc, rule.fields, rule.mode)
            self._record(b, seq)

    def _due(self, now: float) -> list[Emission]:
        ready = [h for h in self._delayed if h.due <= now]  # type: ignore[operator]
        if not ready:
            return []
        self._delayed = [h for h in self._delayed if h.due > now]  # type: ignore[operator]
        return [e for h in ready for e in h.emissions()]

    def release(self, now: float) -> list[Emission]:
        """Delayed messages whose time has come (call from the engine's housekeeping)."""
        return self._due(now) if self._delayed else []

    def drain(self) -> list[Emission]:
        """Everything still held, in seq order (at the end of the data)."""
        held = sorted(self._buffer + self._delayed + self._reordered, key=lambda h: h.seq)
        self._buffer, self._delayed, self._reordered = [], [], []
        return [e for h in held for e in h.emissions()]


def injector_for(scenario: Scenario, thing: str, truth: GroundTruthLog, started_at: float) -> FaultInjector | None:
    """The station's injector, or None when no rule selects it (the engine's fast path: publish as before)."""
    rules = scenario.rules_for(thing)
    return FaultInjector(thing, rules, scenario.seed, truth, started_at) if rules else None
