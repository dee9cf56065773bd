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


def test_the_message_cache_reports_every_problem_as_met_and_again_when_reused(tmp_path: Path) -> None:
    """A file with no record at all: each problem reaches the sink while the cache is made; a reused cache gives
    the counts by kind and the file error back (what an unthrottled single station reports again)."""
    from station.engine.cache import open_cache

    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"nothing here\n" * 389)
    problems: list[InputProblem] = []
    cache, produced = open_cache(garbage, tmp_path / "cache", shifted=False, on_problem=problems.append)
    assert produced and len(cache) == 0
    assert [p.line_number for p in problems] == list(range(1, 390))
    kinds = {p.kind for p in problems}
    cache.close()
    again, produced = open_cache(garbage, tmp_path / "cache", shifted=False, on_problem=problems.append)
    assert not produced and len(problems) == 389  # nothing decoded again
    assert again.known_problems() == ({kind: sum(1 for p in problems if p.kind == kind) for kind in kinds}, None)
    again.close()
