"""The seeded schedule of fleet faults: a scenario's `fleet:` section resolved against a compose project's services.

Each `FleetAction` (fleetcore.faults.scenario) becomes one `Step` per container it targets:
- `broker_restart` acts on the `broker` service (its `target` is ignored);
- `kill`, `pause`, `network_cut` act on the station and group services (`station-N`, `group-N`) its `target`
  selects: `names` / `pattern` narrow them, then `fraction` keeps each with that seeded probability or `count`
  keeps exactly that many by a seeded ranking (nothing: every one). The draw is a pure function of the seed, the
  action's index and the service name, so the same scenario and fleet give the same plan.
An action that selects no container is refused (one line per problem): a chaos run that does nothing is a mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deploy.chaos.docker import Container
from deploy.chaos.errors import ConfigError
from fleetcore.faults.scenario import FleetAction, FleetFault, Scenario
from fleetcore.faults.seeding import hash64

BROKER_SERVICE = "broker"
STATION_SERVICE = re.compile(r"^(station|group)-\d+$")


@dataclass(frozen=True)
class Step:
    """One fleet fault on one container: begins `at` s after the run started, ends (restored) `seconds` later."""

    index: int        # the action's index in the scenario's `fleet:` list
    kind: FleetFault
    at: float
    seconds: float
    service: str
    container: str    # id
    name: str         # container name, for people

    @property
    def ends_at(self) -> float:
        return self.at + self.seconds


@dataclass(frozen=True)
class Plan:
    steps: list[Step]
    seed: int
    name: str | None = None

    @property
    def duration(self) -> float:
        """Seconds from start to the last restore: the run's bound."""
        return max((s.ends_at for s in self.steps), default=0.0)


def _targets(scenario: Scenario, index: int, action: FleetAction, stations: list[Container]) -> list[Container]:
    select = action.target
    matching = [c for c in stations if select.matches(c.service)]
    if select.count is not None:
        ranked = sorted(matching, key=lambda c: hash64(scenario.seed, "fleet", index, c.service))
        return sorted(ranked[: select.count], key=lambda c: c.service)
    if select.fraction is not None:
        return [c for c in matching if hash64(scenario.seed, "fleet", index, c.service) / 2.0**64 < select.fraction]
    return matching


def make_plan(scenario: Scenario, containers: list[Container], project: str, source: str = "FAULTS") -> Plan:
    """The steps of `scenario.fleet` on `containers` (the project's), sorted by time then file order."""
    if not scenario.fleet:
        raise ConfigError(f"{source}: no `fleet:` section: nothing for `make chaos` to do (docs/faults.md)")
    by_service: dict[str, Container] = {}
    for c in containers:
        by_service.setdefault(c.service, c)  # one container per service in this fleet (no compose --scale)
    stations = [c for s, c in sorted(by_service.items()) if STATION_SERVICE.match(s)]
    steps: list[Step] = []
    problems: list[str] = []
    for index, action in enumerate(scenario.fleet):
        if action.kind is FleetFault.BROKER_RESTART:
            broker = by_service.get(BROKER_SERVICE)
            targets = [broker] if broker else []
        else:
            targets = _targets(scenario, index, action, stations)
        if not targets:
            known = ", ".join(sorted(by_service)) or "none"
            problems.append(f"{source}: fleet[{index}] ({action.kind.value}) selects no container of compose "
                            f"project {project!r} (its services: {known}); start the fleet with `make up`")
            continue
        steps += [Step(index, action.kind, action.at, action.seconds, c.service, c.id, c.name) for c in targets]
    if problems:
        raise ConfigError("\n".join(problems))
    return Plan(sorted(steps, key=lambda s: (s.at, s.index, s.service)), scenario.seed, scenario.name)
