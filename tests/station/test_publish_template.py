"""Message templates: filling seq/sent_at (and shifted time) gives exactly the bytes `encode_message` gives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from station.replay import IsdSource, PreparedSource, fill_template, make_template


@pytest.mark.parametrize("shifted", [False, True])
def test_template_is_byte_identical_to_encoding(data_dir: Path, shifted: bool) -> None:
    path = data_dir / "720538-00164-2021"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    source = IsdSource(path, "ws-template")
    sent = datetime(2026, 5, 6, 7, 8, 9, 987654, tzinfo=timezone.utc)
    count = 0
    for i, record in enumerate(source.records()):
        when = sent + timedelta(seconds=i, milliseconds=3) if shifted else None
        expected = source.encode(record, seq=i + 1, sent_at=sent, time=when)
        parts = make_template(source, record, shifted=shifted)
        assert fill_template(parts, i + 1, sent, when) == expected
        count += 1
    assert count == 500


def test_prepared_source_yields_the_same_records(data_dir: Path) -> None:
    path = data_dir / "720538-00164-2021"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    plain = [(r.line_number, r.time) for r in IsdSource(path, "ws").records()]
    prepared = PreparedSource(IsdSource(path, "ws"), shifted=False)
    assert [(r.line_number, r.time) for r in prepared.records()] == plain
