"""Every replay behaviour, for both hosting modes of the one engine (`single`: `station run` with THING_NAME;
`group`: the same station as the one thing of a shard): resume, LOOP after a finished run, a damaged file,
kill -9, a broker outage, the SIGTERM/SIGINT drain. Real broker, real station process."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from isd_decoder import read_isd
from station.exit_codes import ExitCode
from tests.conftest import SMALL_FILE_LINES
from tests.station.test_publish_damaged_input import truncated_gz
from tests.support.broker import TlsBroker
from tests.support.certs import TestCA
from tests.support.hosting import HOSTS, HostedStation
from tests.support.station import monitor

pytestmark = [pytest.mark.docker, pytest.mark.parametrize("host", HOSTS)]


@pytest.fixture(scope="module")
def own_broker(docker_engine: None, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A broker of this module only: the outage test stops and starts it."""
    with TlsBroker(tmp_path_factory.mktemp("outage-broker"), test_ca) as broker:
        yield broker


def station(broker: TlsBroker, host: str, name: str, data: Path, tmp_path: Path) -> HostedStation:
    return HostedStation(host, broker, f"{name}-{host}", data, tmp_path)


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


def test_sigterm_then_restart_resumes_after_the_checkpoint(tls_broker: TlsBroker, tmp_path: Path, small_file: Path,
                                                           host: str) -> None:
    st = station(tls_broker, host, "ws-resume", small_file, tmp_path)
    with monitor(tls_broker, tmp_path) as sub:
        first = st.start(INTERVAL="0.01")
        assert sub.wait_count(60, timeout=30), first.output
        first.signal(signal.SIGTERM)
        assert first.wait(15) == 0, first.output
        saved = st.checkpoint()
        assert 60 <= saved["seq"] < SMALL_FILE_LINES and not saved["finished"]
        second = st.start(INTERVAL="0")
        assert second.wait(60) == 0, second.output
        assert sub.wait_count(SMALL_FILE_LINES, timeout=20)
        time.sleep(0.3)
        messages = sub.messages()
    assert seqs(messages) == list(range(1, SMALL_FILE_LINES + 1))  # drained: no gap, no duplicate
    assert int(st.summary(second)["first_seq"]) == saved["seq"] + 1
    assert st.checkpoint()["finished"] is True


def test_loop_set_after_a_finished_run_starts_the_next_pass(tls_broker: TlsBroker, tmp_path: Path, small_file: Path,
                                                            host: str) -> None:
    """Regression (group mode): a finished checkpoint with LOOP=true said "nothing to replay ... or set LOOP=true"."""
    data = tmp_path / "twenty.txt"
    data.write_bytes(b"".join(small_file.read_bytes().splitlines(keepends=True)[:20]))
    records = list(read_isd(data))
    st = station(tls_broker, host, "ws-loop-after", data, tmp_path)
    with monitor(tls_broker, tmp_path) as sub:
        first = st.start(INTERVAL="0")
        assert first.wait(30) == 0, first.output
        assert st.checkpoint()["finished"] is True
        again = st.start(INTERVAL="0.01", LOOP="true")
        assert sub.wait_count(20 + 30, timeout=30), again.output
        again.signal(signal.SIGTERM)
        assert again.wait(15) == 0, again.output
        messages = sub.messages()
    assert "nothing to replay" not in again.output
    assert seqs(messages) == list(range(1, len(messages) + 1))  # seq continues into the new passes
    expected = [r.time.isoformat() for r in records] * (len(messages) // 20 + 1)
    assert [m["time"] for m in messages] == expected[:len(messages)]  # every pass from line 1
    summary = st.summary(again)
    assert summary["reason"] == "SIGTERM" and summary["first_seq"] == "21" and int(summary["passes"]) >= 2


def test_truncated_gz_publishes_its_good_records_exits_3_and_never_finishes(
        tls_broker: TlsBroker, tmp_path: Path, small_file: Path, host: str) -> None:
    """Regression (group mode): a damaged file with records was checkpointed finished, and exited 0."""
    data = truncated_gz(small_file, tmp_path / "cut.gz")
    good = list(read_isd(data))
    assert 50 < len(good) < SMALL_FILE_LINES
    st = station(tls_broker, host, "ws-cut", data, tmp_path)
    with monitor(tls_broker, tmp_path) as sub:
        first = st.start(INTERVAL="0", LOOP="true")
        assert first.wait(60) == ExitCode.DATA_DAMAGED, first.output
        assert sub.wait_count(len(good), timeout=20), first.output
        time.sleep(0.3)
        messages = sub.messages()
    assert seqs(messages) == list(range(1, len(good) + 1))  # once: LOOP starts no pass over a damaged file
    damaged = [line for line in first.lines if " ERROR file-damaged " in line]
    assert len(damaged) == 1 and "cut.gz is damaged or truncated" in damaged[0], first.output
    summary = st.summary(first)
    assert (summary["reason"], summary["acknowledged"], summary["passes"]) == ("file-damaged", str(len(good)), "0")
    saved = st.checkpoint()
    assert (saved["finished"], saved["seq"], saved["line"]) == (False, len(good), good[-1].line_number)
    again = st.start(INTERVAL="0")
    assert again.wait(60) == ExitCode.DATA_DAMAGED, again.output
    assert "file-damaged" in again.output and st.summary(again)["published"] == "0"


def test_kill_9_then_restart_resumes_after_checkpoint(tls_broker: TlsBroker, tmp_path: Path, small_file: Path,
                                                      host: str) -> None:
    total = sum(1 for _ in read_isd(small_file))
    st = station(tls_broker, host, "ws-kill", small_file, tmp_path)
    with monitor(tls_broker, tmp_path) as sub:
        first = st.start(INTERVAL="0.01", CHECKPOINT_INTERVAL="0.2")
        try:
            assert sub.wait_count(150, timeout=30), first.output
        finally:
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
        saved = st.checkpoint()
        assert 50 <= saved["seq"] < total and saved["line"] == saved["seq"]  # one record per line here
        # What the broker took before the kill is still on its way to the monitor; counted before it arrived, it
        # would look like the second run's first messages.
        before = sub.wait_quiet()
        second = st.start(INTERVAL="0")
        assert second.wait(60) == 0, second.output
        assert sub.wait_for(lambda p: len(p) >= before + total - saved["seq"], timeout=20)
        messages = sub.messages()
    resumed = messages[before:]
    if host == "single":  # a group logs each station's resume at DEBUG
        assert "resuming after line" in second.output
    assert seqs(resumed) == list(range(saved["seq"] + 1, total + 1))  # right after the checkpoint, no gap
    assert {m["seq"] for m in messages} == set(range(1, total + 1))  # nothing missing overall
    by_seq: dict[int, str] = {}
    for m in messages:  # a duplicate (sent before the kill, acknowledged after the checkpoint) is the same record
        assert by_seq.setdefault(m["seq"], m["time"]) == m["time"]


@pytest.mark.slow
def test_broker_outage_loses_nothing(own_broker: TlsBroker, tmp_path: Path, small_file: Path, host: str) -> None:
    """Broker stopped for 10 s mid-replay, then started again: every seq arrives (duplicates allowed)."""
    total = sum(1 for _ in read_isd(small_file))
    st = station(own_broker, host, "ws-outage", small_file, tmp_path)
    with monitor(own_broker, tmp_path) as sub:
        process = st.start(INTERVAL="0.01")
        try:
            assert sub.wait_count(100, timeout=30), process.output
            own_broker.stop()
            time.sleep(10)
            own_broker.start()
            assert process.wait(90) == 0, process.output
            assert sub.wait_for(lambda p: {json.loads(x)["seq"] for x in p} >= set(range(1, total + 1)),
                                timeout=30), "missing seq: " + str(
                sorted(set(range(1, total + 1)) - {m["seq"] for m in sub.messages()})[:20])
        finally:
            process.kill()
    assert "disconnected" in process.output
    summary = st.summary(process)
    assert (summary["acknowledged"], summary["failed"], summary["reconnects"]) == (str(total), "0", "1")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_summarises_and_exits_zero(tls_broker: TlsBroker, tmp_path: Path, small_file: Path,
                                                 signum: signal.Signals, host: str) -> None:
    st = station(tls_broker, host, f"ws-{signum.name.lower()}", small_file, tmp_path)
    with monitor(tls_broker, tmp_path) as sub:
        process = st.start(INTERVAL="0.02")
        try:
            assert sub.wait_count(50, timeout=30), process.output
            started = time.monotonic()
            process.signal(signum)
            assert process.wait(15) == 0, process.output
            assert time.monotonic() - started < 8.0  # DRAIN_TIMEOUT 5 s at most, plus process exit
        finally:
            process.kill()
        summary = st.summary(process)
        time.sleep(0.3)
        received = sub.messages()
    assert summary["reason"] == signum.name and summary["failed"] == "0"
    published = int(summary["published"])
    assert 50 <= published < SMALL_FILE_LINES and summary["acknowledged"] == str(published)
    assert seqs(received) == list(range(1, published + 1))
    assert st.checkpoint()["seq"] == published and not st.checkpoint()["finished"]
