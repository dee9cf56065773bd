"""A group pushed at 3x its capacity against the real broker (issue 22): it falls behind and says so, keeps every
connection, fails no station and loses nothing it had acknowledged (the monitor receives every seq)."""

from __future__ import annotations

import re
import signal
import statistics
import time
from pathlib import Path

import pytest

from tests.station.group.test_group_broker import group_env, seqs_by_thing
from tests.support.broker import TlsBroker
from tests.support.station import StationProcess, fields, monitor

pytestmark = [pytest.mark.docker, pytest.mark.slow]
STATIONS = 300  # at 3x capacity each station stays far under the broker's 100 publishes/s per connection
OVERLOAD_S = 30.0


def capacity(broker: TlsBroker, tmp: Path, names: list[str]) -> float:
    """Acknowledged messages per second of the group publishing as fast as it can (INTERVAL=0), once connected."""
    proc = StationProcess(group_env(broker, tmp, names, INTERVAL="0", LOOP="true", STATE_DIR=str(tmp / "probe")))
    proc.wait_line(rf"group-progress .*connected={len(names)} ", 60)
    time.sleep(6)
    proc.signal(signal.SIGTERM)
    assert proc.wait(60) == 0, proc.output
    rates = [float(m) for m in re.findall(rf"group-progress .*connected={len(names)} .*rate=([\d.]+)/s", proc.output)]
    assert len(rates) >= 4, proc.output[-3000:]
    return statistics.median(rates[1:])


def test_a_group_at_three_times_its_capacity_keeps_every_connection_and_loses_nothing(tls_broker: TlsBroker,
                                                                                       tmp_path: Path) -> None:
    names = [f"ovl-{i}" for i in range(1, STATIONS + 1)]
    cap = capacity(tls_broker, tmp_path, names)
    interval = len(names) / (3 * cap)
    env = group_env(tls_broker, tmp_path, names, INTERVAL=f"{interval:.6f}", LOOP="true", PROGRESS_INTERVAL="2",
                    STATE_DIR=str(tmp_path / "state"))
    with monitor(tls_broker, tmp_path) as sub:
        proc = StationProcess(env)
        proc.wait_line(rf"group-progress .*connected={len(names)} ", 60)
        time.sleep(OVERLOAD_S)
        proc.signal(signal.SIGTERM)
        assert proc.wait(120) == 0, proc.output[-3000:]
        summary = fields(proc.wait_line(r"group-summary"))
        acked = int(summary["acknowledged"])
        assert sub.wait_count(acked, 120), (sub.count(), acked)
    assert (summary["published"], summary["failed"], summary["unacknowledged"]) == (str(acked), "0", "0")
    assert (summary["failed_stations"], summary["disconnects"]) == ("0", "0"), "every connection kept"
    overloaded = [ln for ln in proc.lines if "group-overloaded" in ln]
    assert overloaded, "the group said it was behind schedule"
    assert float(fields(overloaded[-1])["behind_s"]) > 1.0
    rate = float(fields(overloaded[-1])["rate"].rstrip("/s"))
    assert rate < 0.8 * 3 * cap, "it really was overloaded"
    stations = [fields(ln) for ln in proc.lines if " summary " in ln and "thing=" in ln]
    assert len(stations) == len(names) and all(s["reconnects"] == "0" for s in stations)
    per = seqs_by_thing(sub.messages())
    assert all(s["last_seq"] != "None" for s in stations), "every station published: none starved"
    for s in stations:  # every acknowledged seq reached the broker's subscriber: nothing acknowledged was lost
        assert set(range(1, int(s["last_seq"]) + 1)) <= set(per[s["thing"]]), s["thing"]
