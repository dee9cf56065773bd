"""The streaming reader: sources, damaged lines (typed errors, counted, reading goes on), damaged .gz files."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest

from isd_decoder import IsdFileError, IsdLineError, read_isd
from tests.support.isd_lines import isd_line

GOOD = [isd_line("ADDMA1100981999999", time=f"{h:02d}00") for h in range(5)]


def write(tmp_path: Path, name: str, lines: list[bytes], compress: bool = False) -> Path:
    data = b"".join(line + b"\n" for line in lines)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


class Unseekable(io.RawIOBase):
    """A pipe-like stream: read only, no seek, no peek."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(min(len(buffer), 7))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_path_and_file_objects_give_the_same_records(tmp_path: Path, compress: bool) -> None:
    path = write(tmp_path, "x.gz" if compress else "x", [line.encode() for line in GOOD], compress)
    expected = [(r.line_number, r.time) for r in read_isd(path)]
    assert [n for n, _ in expected] == [1, 2, 3, 4, 5]
    with path.open("rb") as f:
        assert [(r.line_number, r.time) for r in read_isd(f)] == expected
        assert not f.closed  # the caller's file stays open
    assert [(r.line_number, r.time) for r in read_isd(io.BytesIO(path.read_bytes()))] == expected
    assert [(r.line_number, r.time) for r in read_isd(Unseekable(path.read_bytes()))] == expected
    assert [(r.line_number, r.time) for r in read_isd(str(path))] == expected


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = write(tmp_path, "no-suffix", [line.encode() for line in GOOD], compress=True)
    assert sum(1 for _ in read_isd(path)) == 5


def test_damaged_lines_are_skipped_typed_and_counted(tmp_path: Path) -> None:
    good = GOOD[0].encode()
    lines = [
        good,
        good[:-5],  # too short for its declared length
        good + b"XYZ",  # too long
        b"00x7" + good[4:],  # bad length field
        good[:87] + b"+00A0" + good[92:],  # non-digits in the air temperature
        good[:120] + b"\xff" + good[121:],  # undecodable byte
        isd_line(date="20220230").encode(),  # impossible date
        b"",  # empty line
        GOOD[1].encode(),
    ]
    path = write(tmp_path, "damaged", lines)
    with read_isd(path) as reader:
        records = list(reader)
    assert [r.line_number for r in records] == [1, 9]
    assert all(isinstance(e, IsdLineError) for e in reader.errors)
    assert [(e.line_number, e.kind) for e in reader.errors] == [
        (2, "length"), (3, "length"), (4, "length-field"), (5, "digits"), (6, "encoding"), (7, "date"),
        (8, "length-field"),
    ]
    assert "air temperature" in reader.errors[3].message
    assert reader.stats.lines == 9 and reader.stats.records == 2 and reader.stats.skipped == 7
    assert reader.stats.skipped_by_kind["length"] == 2
    assert not reader.stats.file_error


def test_truncated_gzip_gives_one_error_after_the_last_good_record(tmp_path: Path) -> None:
    lines = [isd_line("ADDMA1100981999999", date=f"202201{d:02d}").encode() for d in range(1, 29)] * 40
    data = gzip.compress(b"".join(line + b"\n" for line in lines))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    # What the cut stream still holds: every line ended by a newline in it is a record, the partial one is lost.
    readable = zlib.decompressobj(wbits=31).decompress(path.read_bytes())
    complete = readable.count(b"\n")
    assert readable.rsplit(b"\n", 1)[1], "the cut must fall inside a line for this test"
    with read_isd(path) as reader:
        records = list(reader)  # must not raise
    assert 0 < complete < len(lines)
    assert len(records) == complete
    assert [r.line_number for r in records] == list(range(1, len(records) + 1))
    file_errors = [e for e in reader.errors if isinstance(e, IsdFileError)]
    assert len(file_errors) == 1
    assert "truncated" in str(file_errors[0]) and "cut.gz" in str(file_errors[0])
    assert reader.stats.file_error
    # the partial line before the cut is neither a record nor a skipped line: only the file error reports it
    assert (reader.stats.lines, reader.stats.records, reader.stats.skipped) == (complete, complete, 0)


def test_corrupt_gzip_body_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"not deflate data at all" * 10)
    with read_isd(path) as reader:
        assert list(reader) == []
    assert len(reader.errors) == 1 and isinstance(reader.errors[0], IsdFileError)


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty", [])
    with read_isd(path) as reader:
        assert list(reader) == []
    assert reader.errors == [] and reader.stats.lines == 0


def test_unknown_identifiers_are_counted(tmp_path: Path) -> None:
    lines = [isd_line("ADDZZ1abc").encode(), isd_line("ADDMA1100981999999ZZ1").encode(), GOOD[0].encode()]
    with read_isd(write(tmp_path, "u", lines)) as reader:
        records = list(reader)
    assert len(records) == 3
    assert reader.stats.unknown_identifiers == {"ZZ1": 2}


def test_reader_closes_the_file_it_opened(tmp_path: Path) -> None:
    path = write(tmp_path, "x", [line.encode() for line in GOOD])
    with read_isd(path) as reader:
        next(iter(reader))
    assert reader._stream.closed


def test_kept_errors_are_capped_but_all_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("isd_decoder.reader.MAX_KEPT_ERRORS", 3)
    path = write(tmp_path, "garbage", [b"garbage"] * 10 + [GOOD[0].encode()])
    with read_isd(path) as reader:
        records = list(reader)
    assert len(records) == 1 and records[0].line_number == 11
    assert [e.line_number for e in reader.errors] == [1, 2, 3]
    assert reader.stats.skipped == 10
