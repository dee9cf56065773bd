"""Device faults end to end, in both hosting modes of the one engine: a real station process (FAULTS set) publishes
to the real broker, the real lake writer stores what arrives, and `pipeline audit` over the lake and the station's
state reports exactly what was injected; a broker restart and a `kill -9` of the station lose nothing.

One broker per module; each test its own in-process lake writer (a subscription and a flush timer, as
`pipeline lake` runs them) and its own station names."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleetcore.identity import LAKE_CLIENT_ID, MONITOR_THING
from pipeline.audit import Audit, StationAudit, run_audit
from pipeline.lake import LakeWriter
from pipeline.monitor import LakeSubscriber, serve
from pipeline.settings import PipelineSettings
from tests.support.broker import TlsBroker
from tests.support.certs import TestCA
from tests.support.hosting import HOSTS, HostedStation

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.parametrize("host", HOSTS)]

LINES = 60
# Every kind on its own seqs of a 60-message replay (seq-based conditions: the same faults in every run).
SCENARIO = """
seed: 11
rules:
  - {kind: duplicate, when: {every: 10}}
  - {kind: malformed, variant: not_json, when: {after: 12, until: 14}}
  - {kind: stuck, when: {after: 15, until: 17}}
  - {kind: spike, field: air_temperature, when: {after: 20, until: 21}}
  - {kind: missing, fields: [air_temperature], mode: "null", when: {after: 22, until: 23}}
  - {kind: impersonate, when: {every: 25}}
  - {kind: offline, mode: drop, when: {after: 30, until: 32}}
  - {kind: offline, when: {after: 35, until: 38}}
  - {kind: reorder, behind: 2, when: {after: 40, until: 41}}
  - {kind: delay, seconds: 1, when: {after: 43, until: 44}}
  - {kind: disconnect, seconds: 1, when: {after: 45, until: 46}}
  - {kind: reconnect_storm, seconds: 1, spread: 0.5, when: {after: 50, until: 51}}
  - {kind: clock_skew, offset: 3600, when: {after: 55}}
"""
# kind -> (injected, stored, rejected), as `pipeline audit` counts them
EXPECTED_KINDS = {
    "duplicate": (6, 0, 0), "malformed": (2, 0, 2), "stuck": (2, 2, 0), "spike": (1, 1, 0), "missing": (1, 1, 0),
    "impersonate": (2, 0, 2), "offline": (5, 3, 0), "reorder": (1, 1, 0), "delay": (1, 1, 0),
    "clock_skew": (5, 5, 0),
}


@pytest.fixture(scope="module")
def broker(docker_engine: None, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """This module's broker (the restart test stops and starts it)."""
    with TlsBroker(tmp_path_factory.mktemp("faults-broker"), test_ca) as b:
        yield b


@dataclass
class Lake:
    dir: Path
    subscriber: LakeSubscriber

    def audit(self, state: Path) -> Audit:
        return run_audit(PipelineSettings(LAKE_DIR=self.dir), [state])


@contextmanager
def lake_writer(broker: TlsBroker, tmp_path: Path) -> Iterator[Lake]:
    """The lake writer of `pipeline lake`, in this process; closed (flushed) when the block ends."""
    writer = LakeWriter(tmp_path / "lake", buffer_seconds=0.5)
    subscriber = LakeSubscriber(writer, host=broker.host, port=broker.port, client_id=f"{LAKE_CLIENT_ID}-{tmp_path.name}"[:60],
                                identity_dir=broker.identity(MONITOR_THING, tmp_path / "monitor").directory)
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(writer, subscriber, stop), daemon=True)
    thread.start()
    try:
        yield Lake(tmp_path / "lake", subscriber)
    finally:
        stop.set()
        thread.join(timeout=30)


def settle(lake: Lake, quiet_s: float = 1.5, timeout: float = 30) -> None:
    """Wait until the subscription received nothing new for `quiet_s`."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        n = lake.subscriber.received
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.1)


def row(audit: Audit, thing: str) -> StationAudit:
    return next(s for s in audit.stations if s.thing == thing)


def excerpt(small_file: Path, tmp_path: Path, lines: int) -> Path:
    data = tmp_path / f"first-{lines}.txt"
    data.write_bytes(b"".join(small_file.read_bytes().splitlines(keepends=True)[:lines]))
    return data


def test_the_audit_reports_exactly_the_injected_faults(broker: TlsBroker, small_file: Path, tmp_path: Path,
                                                       host: str) -> None:
    scenario = tmp_path / "faults.yaml"
    scenario.write_text(SCENARIO)
    st = HostedStation(host, broker, f"ws-faults-{host}", excerpt(small_file, tmp_path, LINES), tmp_path)
    with lake_writer(broker, tmp_path) as lake:
        run = st.start(INTERVAL="0.05", FAULTS=str(scenario))
        assert run.wait(60) == 0, run.output
        settle(lake)
    summary = st.summary(run)
    assert int(summary["reconnects"]) == 2  # disconnect and reconnect_storm: closed twice, back twice and summary["unacknowledged"] == "0"
    assert st.checkpoint()["seq"] == LINES and st.checkpoint()["finished"] is True
    audit = lake.audit(st.state_dir)
    one = row(audit, st.thing)
    assert (one.acked_through, one.expected, one.stored, one.missing) == (LINES, LINES - 4, LINES - 4, 0)
    assert (one.duplicates_stored, one.errors, one.quarantined, one.malformed_stored, one.forged_stored) == \
        (0, 2, 2, 0, 0)
    got = {k: (o.injected, o.stored, o.rejected) for k, o in one.faults.items()}
    assert {k: v for k, v in got.items() if k in EXPECTED_KINDS} == EXPECTED_KINDS
    assert got["disconnect"][0] == 1 and got["reconnect_storm"][0] == 1
    assert one.out_of_order >= 2  # the buffered burst after 38 and the reordered 41 came after later seqs
    assert not audit.failed


def test_a_broker_restart_and_a_kill_9_lose_nothing(broker: TlsBroker, small_file: Path, tmp_path: Path,
                                                    host: str) -> None:
    scenario = tmp_path / "faults.yaml"
    scenario.write_text("{seed: 5, rules: [{kind: duplicate, when: {every: 7}}, "
                        "{kind: offline, when: {after: 90, until: 95}}]}")
    lines = 150
    st = HostedStation(host, broker, f"ws-crash-{host}", excerpt(small_file, tmp_path, lines), tmp_path)
    with lake_writer(broker, tmp_path) as lake:
        first = st.start(INTERVAL="0.02", FAULTS=str(scenario), CHECKPOINT_INTERVAL="0.2")
        first.wait_line(r"progress", timeout=30)
        broker.restart(outage_s=1.0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (st.checkpoint_file.exists() and st.checkpoint()["seq"] >= 93):
            time.sleep(0.05)
        first.signal(signal.SIGKILL)  # mid-buffer: 91.. held, the checkpoint behind them
        first.wait(10)
        saved = st.checkpoint()["seq"]
        second = st.start(INTERVAL="0", FAULTS=str(scenario))
        assert second.wait(60) == 0, second.output
        settle(lake)
    assert saved <= 90 or saved >= 96, saved  # never inside the held buffer
    audit = lake.audit(st.state_dir)
    one = row(audit, st.thing)
    assert (one.acked_through, one.expected, one.stored, one.missing) == (lines, lines, lines, 0)
    assert one.duplicates_stored == 0 and not audit.failed
