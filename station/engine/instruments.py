"""What a station process adds to its lanes when asked: device faults (FAULTS) and Prometheus metrics (METRICS_PORT).

`open_instruments(settings, process, state_dir)` once per process (a single station or a group), then
`attach(lane)` per lane: the lane gets its `FaultInjector` (None when no rule selects it: the fast path) and its
metrics handle (None when METRICS_PORT is 0). Every fault the injector records in the ground truth is also counted
in `weather_fleet_faults_injected_total{kind}` (`CountedTruth`). Invariant: a process with neither opens nothing
and its lanes publish exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleetcore.faults.truth import GroundTruthLog
from fleetcore.metrics import MetricsServer
from station.errors import ConfigError
from station.faults import Faults, open_faults
from station.faults.injector import injector_for
from station.metrics import StationHandle, StationMetrics
from station.settings import ReplayFields

SPEEDUP_GAP_HOURS = 6.0  # the longest recorded gap the group-silent alert allows for, at SPEEDUP


class CountedTruth:
    """The process's ground truth, as a station's injector writes to it, also counting each fault in the station's
    metrics (the same calls as `GroundTruthLog`)."""

    __slots__ = ("truth", "handle")

    def __init__(self, truth: GroundTruthLog, handle: StationHandle) -> None:
        self.truth, self.handle = truth, handle

    def record(self, thing: str, kind: str, seq: int | None, params: dict, rule: int | None = None,
               t: float | None = None) -> None:
        self.handle.fault(kind)
        self.truth.record(thing, kind, seq, params, rule=rule, t=t)

    def flush(self) -> None:
        self.truth.flush()


@dataclass
class Instruments:
    """A process's faults and metrics (either may be None)."""

    faults: Faults | None = None
    metrics: StationMetrics | None = None
    server: MetricsServer | None = None
    lanes: list = field(default_factory=list)  # the lanes with a metrics handle (synced once more at close)

    def attach(self, lane: Any) -> None:
        """Give `lane` its metrics handle and its injector (see module docstring)."""
        handle = self.metrics.station(lane.name) if self.metrics is not None else None
        if handle is not None:
            lane.metrics = handle
            handle.state(lane.state)
            self.lanes.append(lane)
        if self.faults is not None:
            f = self.faults
            truth: Any = f.truth if handle is None else CountedTruth(f.truth, handle)
            lane.injector = injector_for(f.scenario, lane.name, truth, f.started_at)
            if lane.injector is not None:
                lane.truth = f.truth

    def close(self) -> None:
        for lane in self.lanes:  # what happened since each lane's last periodic sync
            lane.flush_metrics()
        if self.faults is not None:
            self.faults.truth.flush()
        if self.server is not None:
            self.server.close()
            self.server = None


def expected_interval(settings: ReplayFields) -> float:
    """The longest gap the schedule allows between two publishes (the group-silent alert's measure)."""
    if settings.interval is not None:
        return settings.interval
    return SPEEDUP_GAP_HOURS * 3600.0 / (settings.effective_speedup or 1.0)


def open_instruments(settings: ReplayFields, process: str, state_dir: Path) -> Instruments:
    """FAULTS opened (ConfigError: one line per problem) and the metrics served on METRICS_PORT (ConfigError
    naming it when the port cannot be bound)."""
    out = Instruments()
    if settings.faults is not None:
        if not settings.faults.is_file():
            raise ConfigError(f"FAULTS={settings.faults}: file not found (give a scenario file, e.g. "
                              "contracts/faults/lab-demo.yaml, or unset FAULTS)")
        state_dir.mkdir(parents=True, exist_ok=True)
        out.faults = open_faults(settings.faults, state_dir, process)
    if settings.metrics_port:
        out.metrics = StationMetrics(process, per_station=settings.metrics_per_station)
        out.metrics.set_expected_interval(expected_interval(settings))
        try:
            out.server = out.metrics.serve(settings.metrics_port)
        except OSError as exc:
            raise ConfigError(f"METRICS_PORT={settings.metrics_port}: cannot serve metrics ({exc.strerror or exc}); "
                              "choose another port, or 0 for no metrics") from None
    return out
