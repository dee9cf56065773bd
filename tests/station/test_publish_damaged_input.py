"""Damaged input never kills a run (issue 10, item 3): a truncated .gz publishes every good record before the
damage to a real broker, reports one file error and ends with the summary and exit code 3, in every mode
(streaming, the message cache, PRELOAD); skipped lines are logged as they are met, rate-limited, each with its
line number; a file without a decodable line is an error."""

from __future__ import annotations

import gzip
import logging
import re
import time
from pathlib import Path

import pytest

from isd_decoder import read_isd
from station.exit_codes import ExitCode
from station.input_errors import InputErrorReporter, InputProblem
from tests.support.broker import TlsBroker
from tests.support.station import StationProcess, fields, monitor, replay_env

MODES = {
    "streaming": {"SPEEDUP": "36000000", "DECODE_AHEAD": "false"},
    "message-cache": {"INTERVAL": "0", "DECODE_AHEAD": "true"},
    "preload": {"INTERVAL": "0", "PRELOAD": "true"},
}


def truncated_gz(source: Path, target: Path, keep: float = 0.5) -> Path:
    """`source` gzipped, then cut at `keep` of its compressed size (no end-of-stream marker, no CRC)."""
    whole = gzip.compress(source.read_bytes())
    target.write_bytes(whole[: int(len(whole) * keep)])
    return target


# --- the reporter on its own ---------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_reporter_shows_the_first_lines_then_one_per_interval_with_the_suppressed_count(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    reporter = InputErrorReporter(logging.getLogger("test.input"), "f.gz", first=3, interval=10.0, clock=clock)
    with caplog.at_level(logging.WARNING, "test.input"):
        for line in range(1, 9):  # 8 errors at t=0: 3 shown, 5 suppressed
            reporter.report(InputProblem(line, "digits" if line % 2 else "length", f"bad field at {line}"))
        clock.now = 10.0
        reporter.report(InputProblem(20, "date", "impossible date"))  # the interval passed: shown, with the count
        reporter.report(InputProblem(21, "date", "impossible date"))
        reporter.finish()
    shown = [r for r in caplog.records if getattr(r, "event", "") == "line-skipped"]
    assert [r.fields.get("line") for r in shown] == [1, 2, 3, 20, None]  # type: ignore[attr-defined]
    assert shown[3].fields["suppressed"] == 5  # type: ignore[attr-defined]
    assert shown[4].fields["suppressed"] == 1 and "1 more skipped lines" in shown[4].getMessage()  # type: ignore
    assert all("line 1:" not in r.getMessage() for r in shown)  # the number is a field, not a doubled prefix
    assert reporter.skipped == 10
    assert reporter.kinds_text() == "date:2,digits:4,length:4"


def test_reporter_reports_the_file_error_once(caplog: pytest.LogCaptureFixture) -> None:
    reporter = InputErrorReporter(logging.getLogger("test.input"), "f.gz")
    with caplog.at_level(logging.WARNING, "test.input"):
        reporter.report(InputProblem(7, "file", "f.gz is damaged or truncated"))
        reporter.report(InputProblem(7, "file", "f.gz is damaged or truncated"))
    errors = [r for r in caplog.records if getattr(r, "event", "") == "file-damaged"]
    assert len(errors) == 1 and errors[0].levelno == logging.ERROR
    assert errors[0].fields["last_good_line"] == 6  # type: ignore[attr-defined]
    assert reporter.file_error is not None and reporter.skipped == 0


# --- station run against a real broker -------------------------------------------------------------------------------
@pytest.mark.docker
@pytest.mark.parametrize("mode", sorted(MODES))
def test_truncated_gz_publishes_every_good_record_then_exits_3(tls_broker: TlsBroker, tmp_path: Path,
                                                               small_file: Path, mode: str) -> None:
    data = truncated_gz(small_file, tmp_path / "cut.gz")
    good = list(read_isd(data))
    assert 50 < len(good) < 500  # really cut in the middle
    env = replay_env(tls_broker, f"ws-cut-{mode}", tmp_path, data, **MODES[mode])
    with monitor(tls_broker, tmp_path) as sub:
        station = StationProcess(env)
        assert station.wait() == ExitCode.DATA_DAMAGED, station.output
        assert sub.wait_count(len(good), timeout=20), f"{sub.count()} of {len(good)} arrived\n{station.output}"
        time.sleep(0.3)
        messages = sub.messages()
    assert [m["seq"] for m in messages] == list(range(1, len(good) + 1))
    assert [m["time"] for m in messages] == [r.time.isoformat() for r in good]
    out = station.output
    assert "Traceback" not in out, out
    damaged = [line for line in station.lines if line.split()[2:3] == ["file-damaged"]]
    assert len(damaged) == 1 and "ERROR" in damaged[0] and "cut.gz" in damaged[0], out
    assert f"last_good_line={good[-1].line_number}" in damaged[0]
    summary = fields(station.wait_line(r"\bsummary\b"))
    assert summary["reason"] == "file-damaged" and summary["acknowledged"] == str(len(good))
    assert "truncated" in summary["file_error"]
    assert station.lines[-1].split()[2] == "summary"  # the summary ends the run
    assert fields(station.wait_line(r"\bstart\b"))["lines"] == str(good[-1].line_number)  # counted to the damage


@pytest.mark.docker
@pytest.mark.parametrize("mode", sorted(MODES))
def test_skipped_lines_are_logged_as_met_with_their_number(tls_broker: TlsBroker, tmp_path: Path,
                                                           small_file: Path, mode: str) -> None:
    lines = small_file.read_bytes().splitlines(keepends=True)[:40]
    for index in (2, 5, 6):
        lines[index] = b"this is not an ISD record\n"
    lines[8] = lines[8][:20] + b"X" + lines[8][21:]  # a non-digit in the date
    data = tmp_path / "damaged.txt"
    data.write_bytes(b"".join(lines))
    env = replay_env(tls_broker, f"ws-lines-{mode}", tmp_path, data, **MODES[mode])
    with monitor(tls_broker, tmp_path) as sub:
        station = StationProcess(env)
        assert station.wait() == ExitCode.OK, station.output
        assert sub.wait_count(36, timeout=10)
    skipped = [line for line in station.lines if "line-skipped" in line]
    assert [fields(line)["line"] for line in skipped] == ["3", "6", "7", "9"], station.output
    for line in skipped:
        assert not re.search(r"line \d+: line \d+", line), line
    summary = fields(station.wait_line(r"\bsummary\b"))
    assert summary["skipped_lines"] == "4" and summary["reason"] == "finished"
    kinds = dict(part.split(":") for part in summary["skipped_by_kind"].split(","))
    assert sum(int(n) for n in kinds.values()) == 4 and len(kinds) >= 2, kinds


@pytest.mark.docker
def test_skipped_lines_are_logged_while_the_replay_runs(tls_broker: TlsBroker, tmp_path: Path,
                                                        small_file: Path) -> None:
    """Not at the end of the pass: the line error is logged while later records are still being published."""
    lines = small_file.read_bytes().splitlines(keepends=True)[:40]
    lines[1] = b"garbage\n"
    data = tmp_path / "slow.txt"
    data.write_bytes(b"".join(lines))
    env = replay_env(tls_broker, "ws-lines-live", tmp_path, data, INTERVAL="0.1")
    station = StationProcess(env)
    try:
        line = station.wait_line("line-skipped", timeout=20)
        assert fields(line)["line"] == "2"
        assert station.proc.poll() is None and "summary" not in station.output
    finally:
        station.signal()
        station.wait()


@pytest.mark.docker
def test_file_without_a_decodable_line_is_an_error(tls_broker: TlsBroker, tmp_path: Path) -> None:
    data = tmp_path / "garbage.txt"
    data.write_bytes(b"".join(b"not an ISD record %d\n" % i for i in range(25)))
    env = replay_env(tls_broker, "ws-garbage", tmp_path, data, INTERVAL="0")
    station = StationProcess(env)
    assert station.wait() == ExitCode.DATA_DAMAGED, station.output
    assert "Traceback" not in station.output
    error = station.wait_line("no-records")
    assert "ERROR" in error and "no decodable record" in error and "station inspect" in error
    summary = fields(station.wait_line(r"\bsummary\b"))
    assert summary["reason"] == "no-records" and summary["published"] == "0" and summary["skipped_lines"] == "25"
    # rate-limited: the first LINE_ERRORS_SHOWN lines one by one, the rest counted
    shown = [line for line in station.lines if "line-skipped" in line]
    assert len(shown) == 11 and "15 more skipped lines" in shown[-1], "\n".join(shown)
