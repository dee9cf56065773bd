"""The lake folder's owner (one rule for `make lake-up` and `make swarm-up PIPELINE=1`): the monitor key's owner,
never root; as root the lake folder is handed to it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy.errors import ConfigError
from deploy.lake import lake_owner, last_run


def monitor(tmp_path: Path, uid: int, gid: int) -> Path:
    folder = tmp_path / "fleet" / "things" / "monitor"
    folder.mkdir(parents=True)
    (folder / "private.key").write_text("k")
    if os.geteuid() == 0:
        os.chown(folder / "private.key", uid, gid)
    return folder


def test_the_writer_runs_as_the_monitor_keys_owner(tmp_path: Path) -> None:
    uid, gid = (23456, 23457) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    folder = monitor(tmp_path, uid, gid)
    lake = tmp_path / "lake"
    (lake / "sensor").mkdir(parents=True)
    (lake / "sensor" / "part.json").write_text("{}")
    assert lake_owner(lake, folder) == (uid, gid)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in [lake, *lake.rglob("*")]}
    assert owners == {(uid, gid)}  # as root: handed over, recursively; otherwise already yours


def test_missing_or_root_owned_monitor_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no monitor identity at .*things/monitor: run `make register`"):
        lake_owner(tmp_path / "lake", tmp_path / "fleet" / "things" / "monitor")
    assert not (tmp_path / "lake").exists()
    if os.geteuid() != 0:
        return  # only root can make a root-owned key here
    folder = monitor(tmp_path, 0, 0)
    with pytest.raises(ConfigError, match=r"private.key belongs to root and the lake writer never runs as root"):
        lake_owner(tmp_path / "lake", folder)


def test_last_run_is_the_newest_record(tmp_path: Path) -> None:
    assert last_run(tmp_path) is None
    (tmp_path / "_runs").mkdir()
    for name in ("20260101T000000Z.json", "20260102T000000Z.json"):
        (tmp_path / "_runs" / name).write_text("{}")
    assert last_run(tmp_path) == tmp_path / "_runs" / "20260102T000000Z.json"
