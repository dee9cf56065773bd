"""The fleet's message rate against the AWS limits it meets, and what a running hour costs.

One station publishes at most `MAX_RATE` messages per second (0: no cap). Below that it follows the recording:
`SPEEDUP` x (records / recorded span) on average, or `1 / INTERVAL` (INTERVAL=0: as fast as it can). The
fleet's peak rate is stations x that rate (every station replays in parallel). Every message is one AWS IoT
Core inbound publish, one rule evaluation and, through the lake rule's Firehose action, one PutRecord request.

The limits and their sources live in `fleetcore.aws_limits` (one home): Firehose's direct-PUT quotas per
delivery stream depend on the region (2,000 requests/s and 5 MiB/s in us-east-1, us-west-2, eu-west-1; 1,000
requests/s and 1 MiB/s elsewhere; 500,000 records/s), as does IoT Core's inbound publish quota per account.
Above a limit the excess is throttled: the rules' error action writes it to `errors/` in the lake bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from fleetcore.aws_limits import (
    IOT_CONNECTS_PER_SECOND_PER_ACCOUNT, IOT_PUBLISHES_PER_SECOND_PER_CONNECTION, firehose_quota,
    iot_inbound_publish_limit, region_or_default,
)
from provisioning.aws.cost import file_stats

MESSAGE_BYTES = 1024  # a weather message is about 1 KB of JSON
HOURLY = 1 / 3600  # ISD stations report about once an hour: the rate assumed when no file is at hand


@dataclass(frozen=True)
class Limit:
    name: str
    per_second: float
    unit: str


@dataclass(frozen=True)
class RatePlan:
    """The fleet's rate; `station_rate` is math.inf when nothing bounds it (INTERVAL=0 and MAX_RATE=0)."""

    stations: int
    station_rate: float
    pacing: str
    region: str | None
    price_per_million: float
    price_per_million_minutes: float

    @property
    def fleet_rate(self) -> float:
        return self.stations * self.station_rate

    @property
    def hourly_cost(self) -> float:
        """Messages and connection-minutes of one hour with every station publishing at its rate."""
        if math.isinf(self.fleet_rate):
            return math.inf
        return (self.fleet_rate * 3600 / 1e6 * self.price_per_million
                + self.stations * 60 / 1e6 * self.price_per_million_minutes)

    def exceeded(self) -> list[tuple[Limit, float]]:
        """(limit, the fleet's value for it) for every limit the peak rate is above."""
        rate = self.fleet_rate
        firehose = firehose_quota(self.region)
        mib = firehose.bytes_per_second // (1024 * 1024)
        checks = [
            (Limit(f"Firehose PutRecord requests per delivery stream ({firehose.region})",
                   firehose.requests_per_second, "requests/s"), rate),
            (Limit("Firehose records per delivery stream", firehose.records_per_second, "records/s"), rate),
            (Limit(f"Firehose bytes per delivery stream ({firehose.region})",
                   firehose.bytes_per_second / MESSAGE_BYTES, f"msg/s ({mib} MiB/s of ~1 KB messages)"), rate),
            (Limit(f"AWS IoT inbound publishes per account ({region_or_default(self.region)})",
                   iot_inbound_publish_limit(self.region), "msg/s"), rate),
            (Limit("AWS IoT publishes per connection", IOT_PUBLISHES_PER_SECOND_PER_CONNECTION, "msg/s per station"),
             self.station_rate),
        ]
        return [(limit, value) for limit, value in checks if value > limit.per_second]

    def lines(self) -> list[str]:
        rate = "unbounded" if math.isinf(self.fleet_rate) else f"{self.fleet_rate:,.1f} msg/s"
        per = "unbounded" if math.isinf(self.station_rate) else f"{self.station_rate:,.2f} msg/s"
        out = [f"peak message rate: {rate} ({self.stations} station(s) x {per}, {self.pacing})"]
        cost = "unbounded" if math.isinf(self.hourly_cost) else f"${self.hourly_cost:,.4f}"
        out.append(f"cost per hour:     {cost} at that rate (messages + connection-minutes)")
        if self.stations > IOT_CONNECTS_PER_SECOND_PER_ACCOUNT:
            out.append(f"note: {self.stations:,} stations connecting at once exceed AWS IoT's "
                       f"{IOT_CONNECTS_PER_SECOND_PER_ACCOUNT} CONNECT/s per account: stagger the connects")
        exceeded = self.exceeded()
        if not exceeded:
            firehose = firehose_quota(self.region)
            out.append(f"limits:            within one Firehose stream ({firehose.requests_per_second:,} requests/s "
                       f"in {firehose.region}) and AWS IoT's account and per-connection publish limits")
            return out
        for limit, value in exceeded:
            shown = "unbounded" if math.isinf(value) else f"{value:,.1f}"
            out.append(f"WARNING: {shown} exceeds {limit.name}: {limit.per_second:,.0f} {limit.unit}")
        out.extend(self.ways_out())
        return out

    def ways_out(self) -> list[str]:
        """How to get under the tightest fleet-wide limit (and the per-connection one)."""
        out = ["  the excess is throttled; the rules' error action keeps it in s3://<lake bucket>/errors/. Ways out:"]
        requests = firehose_quota(self.region).requests_per_second
        fleet_limit = min(requests, iot_inbound_publish_limit(self.region))
        cap = min(fleet_limit / self.stations, IOT_PUBLISHES_PER_SECOND_PER_CONNECTION)
        out.append(f"  - MAX_RATE={max(math.floor(cap * 100) / 100, 0.01):g} (messages/s per station)")
        if not math.isinf(self.station_rate) and self.station_rate > 0:
            out.append(f"  - fewer stations: FLEET_COUNT={max(1, math.floor(fleet_limit / self.station_rate))}")
            streams = math.ceil(self.fleet_rate / requests)
            if streams > 1:
                out.append(f"  - {streams} Firehose delivery streams behind the lake rule (one rule per stream, "
                           f"each selecting a share of the things), or a Firehose quota increase")
        out.append("  - a slower replay: a lower SPEEDUP or a larger INTERVAL")
        return out


def station_rate(isd_files: list[str | None], data_dir: Path | None, *, speed: float, interval: float | None,
                 max_rate: float) -> float:
    """The fastest station's average rate: 1/INTERVAL, or SPEEDUP x records per recorded second, capped at
    MAX_RATE (0: no cap)."""
    cap = max_rate if max_rate > 0 else math.inf
    if interval is not None:
        return min(1 / interval if interval > 0 else math.inf, cap)
    best = 0.0
    for name in isd_files:
        path = Path(data_dir) / name if (data_dir and name) else None
        if path is not None and path.is_file():
            st = file_stats(path)
            span = st.span.total_seconds()
            best = max(best, (st.records - 1) / span if span > 0 else math.inf)
    return min(speed * (best or HOURLY), cap)


def rate_plan(isd_files: list[str | None], data_dir: Path | None, *, speed: float, interval: float | None,
              max_rate: float, region: str | None, price_per_million: float,
              price_per_million_minutes: float) -> RatePlan:
    rate = station_rate(isd_files, data_dir, speed=speed, interval=interval, max_rate=max_rate)
    pacing = (f"INTERVAL={interval:g}s" if interval is not None else f"SPEEDUP={speed:g}")
    pacing += f", MAX_RATE={max_rate:g}" if max_rate > 0 else ", MAX_RATE=0 (no cap)"
    return RatePlan(len(isd_files), rate, pacing, region, price_per_million, price_per_million_minutes)
