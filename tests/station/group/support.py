"""Helpers for group-mode tests: small ISD files, identity stand-ins, fake clock and publishers."""

from __future__ import annotations

import collections
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fleetcore.shard import Shard, ShardThing
from station.publisher import Completion, ConnectionEvent
from tests.support.isd_lines import isd_line
from tests.support.standins import stand_in_identity

T0 = datetime(2022, 1, 1, tzinfo=timezone.utc)


def write_isd(path: Path, minutes: list[int], usaf: str = "723123") -> Path:
    """An ISD file with one record per entry of `minutes` (observation = 2022-01-01 + minutes)."""
    lines = []
    for m in minutes:
        t = T0 + timedelta(minutes=m)
        lines.append(isd_line(usaf=usaf, date=t.strftime("%Y%m%d"), time=t.strftime("%H%M")))
    path.write_text("\n".join(lines) + "\n")
    return path


def fake_identities(root: Path, names: list[str]) -> Path:
    for name in names:
        stand_in_identity(root / name)
    return root


def shard_of(names: list[str], data_file: str, offsets: dict[str, int] | None = None) -> Shard:
    offsets = offsets or {}
    return Shard(1, tuple(ShardThing(n, data_file, offsets.get(n, 0)) for n in names))


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 1e-4)

    def utc(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=self.t)


class FakePublisher:
    """Connects at start(), acknowledges every publish at once (or refuses to connect: `refuse`)."""

    log: list[tuple[float, str, int, bytes]]  # shared by every fake of a test: (time, client id, seq, payload)

    def __init__(self, clock: FakeClock, log: list, config: Any, on_event: Any, refuse: bool = False) -> None:
        self.clock, self.log, self.config, self._on_event = clock, log, config, on_event
        self.refuse = refuse
        self.connected = False
        self.connect_count = 0
        self.last_error: str | None = None
        self._completions: collections.deque[Completion] = collections.deque()
        self.stopped = False

    @property
    def inflight(self) -> int:
        return 0

    def start(self) -> None:
        if self.refuse:
            self.last_error = "AWS_IO_TLS_ERROR_READ_FAILURE: refused"
            return
        self.connected = True
        self.connect_count = 1
        self._on_event(ConnectionEvent.CONNECTED, "")

    def publish(self, payload: bytes, token: Any) -> None:
        self.log.append((self.clock(), self.config.client_id, token, payload))
        self._completions.append(Completion(token, True, None))

    def drain_completions(self) -> list[Completion]:
        out = list(self._completions)
        self._completions.clear()
        return out

    def request_stop(self) -> None:
        self.stopped = True


def fake_factory(clock: FakeClock, log: list, refuse: set[str] = frozenset()):  # type: ignore[assignment]
    made: dict[str, FakePublisher] = {}

    def factory(config: Any, topic: str, max_inflight: int, on_event: Any) -> FakePublisher:
        pub = FakePublisher(clock, log, config, on_event, refuse=config.client_id in refuse)
        made[config.client_id] = pub
        return pub

    factory.made = made  # type: ignore[attr-defined]
    return factory
