"""Checkpoints: atomic replacement, fingerprint of the data file, clear error on a damaged file."""

from __future__ import annotations

from pathlib import Path

import pytest

from station import checkpoint as ckpt


def make(path: Path, line: int = 10, seq: int = 10) -> ckpt.Checkpoint:
    return ckpt.Checkpoint(thing_name="ws-1", data_file=str(path), fingerprint=ckpt.fingerprint(path), line=line,
                           seq=seq)


def test_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"abc\n")
    path = ckpt.checkpoint_path(tmp_path / "state", "ws-1")
    assert ckpt.load(path) is None
    ckpt.save(path, make(data))
    ckpt.save(path, make(data, line=20, seq=25))
    loaded = ckpt.load(path)
    assert loaded is not None and (loaded.line, loaded.seq) == (20, 25)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


def test_fingerprint_changes_with_content(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"abc\n")
    first = ckpt.fingerprint(data)
    data.write_bytes(b"abd\n")
    assert first != ckpt.fingerprint(data) and first.startswith("sha256:")


def test_failed_write_keeps_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"x")
    path = tmp_path / "c.json"
    ckpt.save(path, make(data, line=5, seq=5))

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.os, "replace", broken_replace)
    with pytest.raises(OSError):
        ckpt.save(path, make(data, line=6, seq=6))
    monkeypatch.undo()
    assert ckpt.load(path).line == 5  # type: ignore[union-attr]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_damaged_checkpoint_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{not json")
    with pytest.raises(ckpt.CheckpointError, match=str(path)):
        ckpt.load(path)
