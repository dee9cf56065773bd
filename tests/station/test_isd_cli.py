"""`station inspect` and `station convert` on small files written here (and one real file when present)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from station.cli import main
from station.message import WeatherMessage
from tests.conftest import SMALL_FILE_LINES
from tests.support.isd_lines import isd_line

LINES = [
    isd_line("ADDAA101000095GA1071+007501061MW1715REMMET005METAR", time="0000"),
    isd_line("ADDMA1100981999999", time="0100"),
    isd_line("ADDMA1100981999999", time="0100")[:-3],  # damaged: too short
    isd_line("ADDZZ1xyz", time="0200"),  # unknown identifier
]


@pytest.fixture
def isd_file(tmp_path: Path) -> Path:
    path = tmp_path / "723123-14886-2022"
    path.write_text("".join(line + "\n" for line in LINES))
    return path


def test_inspect_summarises(isd_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(isd_file)]) == 0
    out = capsys.readouterr().out
    assert "records 3, skipped 1" in out
    assert "2022-01-01T00:00:00+00:00 .. 2022-01-01T02:00:00+00:00" in out
    assert "723123-14886 3" in out
    assert "AA1 1, GA1 1, MA1 1, MW1 1" in out
    assert "ZZ1 1" in out
    assert "line 3: line too short" in out


def test_inspect_json_and_head(isd_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(isd_file), "--json", "--head", "2", "--thing-name", "ws-1"]) == 0
    out = capsys.readouterr().out
    document, _, rest = out.partition("\n}\n")
    summary = json.loads(document + "\n}")
    assert summary["records"] == 3 and summary["skipped"] == 1
    assert summary["errors"] == [{"line": 3, "kind": "length", "message": summary["errors"][0]["message"]}]
    assert summary["identifiers"] == {"AA1": 1, "GA1": 1, "MA1": 1, "MW1": 1}
    assert summary["sections"] == {"ADD": 3, "REM": 1}
    messages = [WeatherMessage.model_validate_json(line) for line in rest.splitlines()]
    assert [m.seq for m in messages] == [1, 2] and messages[0].thing_name == "ws-1"
    assert messages[0].sky_cover_condition[0].cloud_type == "Stratocumulus"


def test_inspect_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "nope")]) == 2
    assert "cannot open" in capsys.readouterr().err


def test_inspect_truncated_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = gzip.compress(("".join(line + "\n" for line in LINES[:2])).encode() * 300)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    assert main(["inspect", str(path)]) == 1
    out = capsys.readouterr().out
    assert "file error" in out and "truncated" in out


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_convert_to_file(isd_file: Path, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"out{suffix}"
    assert main(["convert", str(isd_file), "-o", str(out)]) == 0
    raw = gzip.decompress(out.read_bytes()) if suffix.endswith(".gz") else out.read_bytes()
    messages = [WeatherMessage.model_validate_json(line) for line in raw.splitlines()]
    assert [m.seq for m in messages] == [1, 2, 3]
    assert {m.thing_name for m in messages} == {"station-723123-14886"}
    assert messages[0].liquid_precip[0].hours == 1
    err = capsys.readouterr().err
    assert "3 messages" in err and "1 skipped" in err and "line 3" in err


def test_convert_to_stdout(isd_file: Path, capsys: pytest.CaptureFixture[bytes]) -> None:
    assert main(["convert", str(isd_file), "--thing-name", "ws-9"]) == 0
    out = capsys.readouterr().out
    assert [json.loads(line)["thing_name"] for line in out.splitlines()] == ["ws-9"] * 3


def test_convert_unwritable_output(isd_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(isd_file), "-o", str(tmp_path / "missing-dir" / "x.jsonl")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_convert_real_file(small_file: Path, tmp_path: Path) -> None:
    path = small_file
    out = tmp_path / "out.jsonl"
    assert main(["convert", str(path), "-o", str(out), "--no-progress"]) == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == SMALL_FILE_LINES
    first = WeatherMessage.model_validate_json(lines[0])
    assert first.weather_station == "720538-00164"


def test_convert_reports_unknown_identifiers_per_identifier(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "723123-14886-2022"
    lines = [isd_line("ADDZZ1xyz", time="0000"), isd_line("ADDMA1100981999999QQ7abc", time="0100"),
             isd_line("ADDZZ1xyzGA1071+007501061", time="0200"), isd_line("ADDMA1100981999999", time="0300")]
    path.write_text("".join(line + "\n" for line in lines))
    assert main(["convert", str(path), "-o", str(tmp_path / "out.jsonl")]) == 0
    err = capsys.readouterr().err
    assert "unknown additional-data identifiers: ZZ1 2, QQ7 1" in err


def test_convert_without_unknown_identifiers_says_nothing_about_them(isd_file: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    isd_file.write_text("".join(line + "\n" for line in LINES[:3]))
    assert main(["convert", str(isd_file), "-o", str(tmp_path / "out.jsonl")]) == 0
    assert "identifiers" not in capsys.readouterr().err


GARBAGE = "this is not ISD\n" * 3 + "0000" + "x" * 101 + "\n"


@pytest.mark.parametrize("command", ["convert", "inspect"])
def test_all_garbage_input_exits_non_zero(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbage"
    path.write_text(GARBAGE)
    args = [command, str(path)] + (["-o", str(tmp_path / "out.jsonl")] if command == "convert" else [])
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"no line of {path} is an ISD record (4 lines read, all skipped" in err


@pytest.mark.parametrize("command", ["convert", "inspect"])
def test_empty_input_exits_non_zero(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty"
    path.write_bytes(gzip.compress(b""))
    assert main([command, str(path)]) == 1
    assert "empty file" in capsys.readouterr().err
