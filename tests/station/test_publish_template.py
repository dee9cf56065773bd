"""Message templates: filling seq/sent_at (and shifted time) gives exactly the bytes `encode_message` gives."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from station.input_errors import InputProblem
from station.sources import IsdSource, PreparedSource, fill_template, make_template
from tests.conftest import SMALL_FILE_LINES


@pytest.mark.parametrize("shifted", [False, True])
def test_template_is_byte_identical_to_encoding(small_file: Path, shifted: bool) -> None:
    path = small_file
    source = IsdSource(path, "ws-template")
    sent = datetime(2026, 5, 6, 7, 8, 9, 987654, tzinfo=timezone.utc)
    count = 0
    for i, record in enumerate(source.records()):
        when = sent + timedelta(seconds=i, milliseconds=3) if shifted else None
        expected = source.encode(record, seq=i + 1, sent_at=sent, time=when)
        parts = make_template(source, record, shifted=shifted)
        assert fill_template(parts, i + 1, sent, when) == expected
        count += 1
    assert count == SMALL_FILE_LINES


def test_prepared_source_yields_the_same_records(small_file: Path) -> None:
    path = small_file
    plain = [(r.line_number, r.time) for r in IsdSource(path, "ws").records()]
    prepared = PreparedSource(IsdSource(path, "ws"), shifted=False)
    assert [(r.line_number, r.time) for r in prepared.records()] == plain


@pytest.mark.parametrize("shifted", [False, True])
def test_decode_ahead_worker_yields_the_prepared_records(small_file: Path, shifted: bool) -> None:
    """The decode-ahead process sends exactly the records and templates PRELOAD makes in-process."""
    from station.decode_ahead import DecodeAheadSource

    path = small_file
    prepared = [(r.line_number, r.time, r.parts)
                for r in PreparedSource(IsdSource(path, "ws"), shifted=shifted).records()]
    problems: list[InputProblem] = []
    source = DecodeAheadSource(IsdSource(path, "ws", problems.append), shifted=shifted)
    source.start()
    ahead = [(r.line_number, r.time, r.parts) for r in source.records()]
    assert ahead == prepared
    assert all(r[1].tzinfo is not None for r in ahead)
    assert problems == []
    assert source.worker_peak_rss_mb is not None and source.worker_peak_rss_mb > 0
    assert source.worker_private_mb is not None and 0 < source.worker_private_mb < source.worker_peak_rss_mb


def test_decode_ahead_reports_skipped_lines_and_stops_its_worker(tmp_path: Path, small_file: Path) -> None:
    from station.decode_ahead import DecodeAheadSource

    path = small_file
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = tmp_path / "damaged.txt"
    damaged.write_bytes(b"".join(lines[:3]) + b"garbage\n" + b"".join(lines[3:400]))
    problems: list[InputProblem] = []
    source = DecodeAheadSource(IsdSource(damaged, "ws", problems.append), shifted=False)
    records = list(source.records())
    assert [r.line_number for r in records] == [1, 2, 3, *range(5, 402)]
    assert [(p.line_number, p.kind) for p in problems] == [(4, "length-field")]
    assert not problems[0].message.startswith("line")
    # Abandoning a pass mid-file (stop request) ends the worker instead of leaving it blocked on the pipe.
    iterator = DecodeAheadSource(IsdSource(path, "ws"), shifted=False).records()
    next(iterator)
    proc = iterator.gi_frame.f_locals["proc"]  # type: ignore[union-attr]
    iterator.close()
    assert proc.wait(5) is not None


def test_decode_ahead_reports_a_missing_or_damaged_file_as_a_problem(tmp_path: Path, small_file: Path) -> None:
    from station.decode_ahead import DecodeAheadSource

    problems: list[InputProblem] = []
    missing = tmp_path / "gone.txt"
    assert list(DecodeAheadSource(IsdSource(missing, "ws", problems.append), shifted=False).records()) == []
    assert [p.kind for p in problems] == ["file"] and "gone.txt" in problems[0].message
    path = small_file
    whole = gzip.compress(path.read_bytes())
    cut = tmp_path / "cut.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    problems.clear()
    records = list(DecodeAheadSource(IsdSource(cut, "ws", problems.append), shifted=False).records())
    assert [p.kind for p in problems] == ["file"] and problems[0].line_number == records[-1].line_number + 1


def test_a_garbage_file_reaches_the_sink_in_batches(tmp_path: Path) -> None:
    """A file with no record at all: its problems cross the pipe in frames as they are met, none is lost."""
    from station.decode_ahead import BATCH, DecodeAheadSource

    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"nothing here\n" * (3 * BATCH + 5))
    problems: list[InputProblem] = []
    assert list(DecodeAheadSource(IsdSource(garbage, "ws", problems.append), shifted=False).records()) == []
    assert [p.line_number for p in problems] == list(range(1, 3 * BATCH + 6))


def test_decode_ahead_worker_failure_is_an_error(tmp_path: Path, small_file: Path) -> None:
    from station.decode_ahead import DecodeAheadError, DecodeAheadSource

    path = small_file
    source = DecodeAheadSource(IsdSource(path, "ws"), shifted=False)
    source.start()
    assert source._started is not None
    source._started.kill()  # the worker dies (e.g. killed for memory) without its end frame
    with pytest.raises(DecodeAheadError, match="720538-00164-2021"):
        list(source.records())
