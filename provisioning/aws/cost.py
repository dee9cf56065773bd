"""What a run will send before it starts: messages, wall-clock duration at the replay speed, and the cost.

Each ISD line is one observation and one MQTT message. AWS IoT Core meters messages in 5 KB steps; a
weather message is about 1 KB, so one message each. Connectivity is metered per connected minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from fleetcore.target import AWS_MAX_RATE
from isd_decoder import read_isd

from fleetcore.manifest import FleetManifest


@dataclass(frozen=True)
class FileStats:
    records: int
    first: datetime | None
    last: datetime | None

    @property
    def span(self) -> timedelta:
        return (self.last - self.first) if self.first and self.last else timedelta(0)


@lru_cache(maxsize=256)
def file_stats(path: Path) -> FileStats:
    """Records and time span of one ISD file, counted by the station's own decoder (`isd_decoder.read_isd`):
    exactly the records a station replays (damaged lines are skipped there too), gzip told apart by content."""
    records, first, last = 0, None, None
    with read_isd(path) as reader:
        for record in reader:
            t = record.time
            records += 1
            first = t if first is None or t < first else first
            last = t if last is None or t > last else last
    return FileStats(records, first, last)


@dataclass(frozen=True)
class CostEstimate:
    stations: int
    messages: int
    data_span: timedelta
    duration: timedelta
    speed: float
    price_per_million: float
    connection_minutes: float
    price_per_million_minutes: float
    missing_files: tuple[str, ...] = ()
    interval: float | None = None

    @property
    def messaging_cost(self) -> float:
        return self.messages / 1e6 * self.price_per_million

    @property
    def connectivity_cost(self) -> float:
        return self.connection_minutes / 1e6 * self.price_per_million_minutes

    @property
    def total(self) -> float:
        return self.messaging_cost + self.connectivity_cost

    def lines(self) -> list[str]:
        out = [
            f"stations:          {self.stations}",
            f"messages:          {self.messages:,}",
            f"recorded span:     {_fmt(self.data_span)} (longest station)",
            f"duration:          {_fmt(self.duration)} at "
            + (f"INTERVAL={self.interval:g}s" if self.interval is not None else f"SPEEDUP={self.speed:g}x"),
            f"messaging cost:    ${self.messaging_cost:,.4f}  "
            f"({self.messages:,} msgs at PRICE_PER_MILLION_MESSAGES=${self.price_per_million:g})",
            f"connectivity cost: ${self.connectivity_cost:,.4f}  ({self.connection_minutes:,.0f} connection-minutes "
            f"at PRICE_PER_MILLION_CONNECTION_MINUTES=${self.price_per_million_minutes:g})",
            f"total:             ${self.total:,.4f}",
        ]
        if self.missing_files:
            out.append(f"not counted (missing in DATA_DIR): {', '.join(self.missing_files)}")
        return out


def _fmt(td: timedelta) -> str:
    s = int(td.total_seconds())
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{sec:02d}"


def station_duration(st: FileStats, *, speed: float, interval: float | None, max_rate: float) -> timedelta:
    """Wall-clock time one station needs: recorded span / SPEEDUP (or records x INTERVAL), never faster than
    MAX_RATE messages per second (0: no cap)."""
    gaps = max(st.records - 1, 0)
    seconds = gaps * interval if interval is not None else st.span.total_seconds() / speed
    return timedelta(seconds=max(seconds, gaps / max_rate if max_rate > 0 else 0.0))


def estimate(isd_files: list[str | None], data_dir: Path | None, *, speed: float, price_per_million: float,
             price_per_million_minutes: float, interval: float | None = None,
             max_rate: float = AWS_MAX_RATE) -> CostEstimate:
    """Estimate for stations replaying `isd_files` (one entry per station, names inside `data_dir`); the
    stations run in parallel, so the run lasts as long as its slowest station."""
    messages, span, duration, minutes, missing = 0, timedelta(0), timedelta(0), 0.0, []
    for name in isd_files:
        path = Path(data_dir) / name if (data_dir and name) else None
        if path is None or not path.is_file():
            missing.append(name or "(no file assigned)")
            continue
        st = file_stats(path)
        own = station_duration(st, speed=speed, interval=interval, max_rate=max_rate)
        messages += st.records
        span, duration = max(span, st.span), max(duration, own)
        minutes += own.total_seconds() / 60
    return CostEstimate(len(isd_files), messages, span, duration, speed, price_per_million, minutes,
                        price_per_million_minutes, tuple(sorted(set(missing))), interval)


def estimate_for_manifest(manifest: FleetManifest, data_dir: Path | None, **kwargs) -> CostEstimate:
    return estimate([t.isd_file for t in manifest.stations()], data_dir, **kwargs)
