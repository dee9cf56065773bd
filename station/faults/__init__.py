"""Device faults (issue 20) for the replay engine: `FaultInjector` (the per-message hook, see `injector`),
the payload transformations (`payload`) and `open_faults`, which the engine calls once at start when FAULTS is set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fleetcore.faults.scenario import Scenario, load_scenario
from fleetcore.faults.truth import GroundTruthLog, truth_path
from station.errors import ConfigError
from station.faults.injector import ConnectionAction, Emission, FaultInjector, Step, injector_for

__all__ = ["ConnectionAction", "Emission", "FaultInjector", "Faults", "Step", "open_faults"]


@dataclass
class Faults:
    """A process's faults: the scenario and its ground-truth log; `injector(thing)` per station (None: untouched)."""

    scenario: Scenario
    truth: GroundTruthLog
    started_at: float

    def injector(self, thing: str) -> FaultInjector | None:
        return injector_for(self.scenario, thing, self.truth, self.started_at)


def open_faults(path: Path, state_dir: Path, process: str, started_at: float | None = None) -> Faults:
    """Load FAULTS (ConfigError with one line per problem) and open `<STATE_DIR>/<process>.faults.jsonl`."""
    scenario = load_scenario(path, ConfigError)
    counted = [str(i) for i, rule in enumerate(scenario.rules) if rule.select.count is not None]
    if counted:
        raise ConfigError(f"FAULTS={path}: rules {', '.join(counted)} select a count of stations, which needs the "
                          "fleet's names: start the fleet with `make up FAULTS=...` (it resolves them), or select "
                          "by names, pattern or fraction")
    truth = GroundTruthLog(truth_path(state_dir, process))
    truth.start(process=process, seed=scenario.seed, scenario=scenario.name)
    return Faults(scenario, truth, time.time() if started_at is None else started_at)
