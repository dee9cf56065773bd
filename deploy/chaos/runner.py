"""Executes a chaos plan on a clock, writes each action in the ground truth as it happens, restores what it changed.

Per step kind (`fleetcore.faults.scenario.FleetFault`):
- `broker_restart`: `docker stop` (SIGTERM, then SIGKILL after the grace time), `seconds` later `docker start`;
  with `seconds: 0` one `docker restart`;
- `kill`: `docker kill --signal KILL`; `seconds` later, when the restart policy has not brought it back, `docker
  start` (`seconds: 0`: left to the restart policy);
- `pause`: `docker pause`, `seconds` later `docker unpause`;
- `network_cut`: `docker network disconnect` from every network, `seconds` later reconnected with the same aliases
  (compose's service name is how the stations find `broker`).

Ground truth (`fleetcore.faults.truth`, process `chaos`): one line per action, flushed at once, `thing` the compose
service, `kind` the FleetFault, `params` {"phase": "begin" | "end", "container", "seconds", "action" (index in
`fleet:`), ...}; `t` is the wall time the Docker call was issued. A restore is an `end` line.

Invariants: a fault lasts at least `seconds` (its restore is scheduled `seconds` after its Docker call returned);
the run ends by itself soon after `plan.duration` (later only by the time the Docker calls take); whatever it changed is restored before `run` returns:
at the scheduled time, or at once when `stop` is set (SIGINT/SIGTERM) or an unexpected error escapes. An action
whose Docker call fails is logged, not recorded (it did not happen), and counted in `Outcome.failures`.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from deploy.chaos.docker import Docker
from deploy.chaos.errors import ChaosError
from deploy.chaos.plan import Plan, Step
from fleetcore.faults.scenario import FleetFault
from fleetcore.faults.truth import GroundTruthLog

log = logging.getLogger("deploy.chaos")

BEGIN, END = "begin", "end"
RUNNING = ("running", "restarting")
Restore = Callable[[], None]


@dataclass
class Outcome:
    actions: int = 0                 # ground-truth lines written (begins and ends)
    failures: list[str] = field(default_factory=list)
    interrupted: bool = False        # stopped early (signal): pending restores were done at once


class ChaosRunner:
    def __init__(self, docker: Docker, plan: Plan, truth: GroundTruthLog, *, grace_s: int = 10,
                 monotonic: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.docker, self.plan, self.truth = docker, plan, truth
        self.grace_s = grace_s
        self._monotonic, self._wall = monotonic, wall
        self.outcome = Outcome()

    def _record(self, step: Step, phase: str, t: float, **extra: object) -> None:
        params = {"phase": phase, "container": step.name, "seconds": step.seconds, "action": step.index, **extra}
        self.truth.record(step.service, step.kind.value, None, params, t=t)
        self.truth.flush()
        self.outcome.actions += 1
        log.info("%s %s %s (%s)%s", step.kind.value, phase, step.service, step.name,
                 "".join(f" {k}={v}" for k, v in extra.items()))

    def run(self, stop: threading.Event) -> Outcome:
        """Every step at its time; returns after the last restore, or soon after `stop` is set."""
        self.truth.start(seed=self.plan.seed, name=self.plan.name, steps=len(self.plan.steps))
        t0 = self._monotonic()
        queue: list[tuple[float, int, str]] = [(s.at, n, BEGIN) for n, s in enumerate(self.plan.steps)]
        heapq.heapify(queue)
        pending: dict[int, Restore] = {}
        try:
            while queue:
                at, n, phase = queue[0]
                if stop.wait(max(0.0, t0 + at - self._monotonic())):
                    self.outcome.interrupted = True
                    break
                heapq.heappop(queue)
                step = self.plan.steps[n]
                if phase == BEGIN:
                    restore = self._attempt(step, lambda: self._begin(step))
                    if restore is not None:  # `seconds` from when the fault took effect, not from `at`
                        pending[n] = restore
                        heapq.heappush(queue, (self._monotonic() - t0 + step.seconds, n, END))
                else:
                    self._attempt(step, pending.pop(n))
        finally:
            for n in sorted(pending):  # interrupted (or an error escaped): restore now, in plan order
                self._attempt(self.plan.steps[n], pending[n])
            self.truth.flush()
        return self.outcome

    def _attempt(self, step: Step, action: Callable[[], Restore | None]) -> Restore | None:
        try:
            return action()
        except ChaosError as exc:
            message = f"{step.kind.value} {step.service}: {exc}"
            log.error("%s", message)
            self.outcome.failures.append(message)
            return None

    def _begin(self, step: Step) -> Restore | None:
        d, c, t = self.docker, step.container, self._wall()
        if step.kind is FleetFault.PAUSE:
            d.pause(c)
            self._record(step, BEGIN, t)
            return lambda: self._end(step, d.unpause)
        if step.kind is FleetFault.NETWORK_CUT:
            networks = d.networks(c)
            cut: list[str] = []
            try:
                for net in networks:
                    d.disconnect(net, c)
                    cut.append(net)
            except ChaosError:
                for net in cut:  # put back what was cut before the failure
                    d.connect(net, c, networks[net])
                raise
            self._record(step, BEGIN, t, networks=sorted(networks))

            def reconnect(container: str) -> None:
                for net in cut:
                    d.connect(net, container, networks[net])
            return lambda: self._end(step, reconnect)
        if step.kind is FleetFault.KILL:
            d.kill(c, "KILL")
            self._record(step, BEGIN, t, signal="KILL")
            return (lambda: self._restart_killed(step)) if step.seconds > 0 else None
        if step.kind is FleetFault.BROKER_RESTART:
            if step.seconds <= 0:
                d.restart(c, self.grace_s)
                self._record(step, BEGIN, t, restarted=True)
                return None
            d.stop(c, self.grace_s)
            self._record(step, BEGIN, t)
            return lambda: self._end(step, d.start)
        raise ChaosError(f"no runner for fleet fault {step.kind.value}")  # a new FleetFault without its code

    def _end(self, step: Step, undo: Callable[[str], None]) -> None:
        t = self._wall()
        undo(step.container)
        self._record(step, END, t)

    def _restart_killed(self, step: Step) -> None:
        t = self._wall()
        if self.docker.status(step.container) in RUNNING:
            self._record(step, END, t, restarted_by="policy")
            return
        self.docker.start(step.container)
        self._record(step, END, t, restarted_by="chaos")
