"""Collecting the stations' state: the audit's files of a `docker cp` stream, a fresh copy per service."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from deploy.chaos.collect import collect_state, extract_state
from deploy.chaos.docker import Docker
from deploy.chaos.errors import ConfigError
from tests.deploy.fake_docker import FakeContainer, FakeDocker


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


STATE = {"state/station-1.checkpoint.json": b'{"seq": 4}', "state/station-1.status.json": b"{}",
         "state/station-1.faults.jsonl": b'{"t": 1}\n', "state/.cache/messages.json": b"[]",
         "state/station-1.lock": b"x", "state/../escape.json": b"{}", "state/g/station-9.checkpoint.json": b"{}"}


def test_only_the_audit_files_are_kept_and_the_copy_replaces_the_old(tmp_path: Path) -> None:
    target = tmp_path / "state" / "station-1"
    target.mkdir(parents=True)
    (target / "old.checkpoint.json").write_text("{}")
    assert extract_state(tar_of(STATE), target) == 4
    kept = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert kept == ["g/station-9.checkpoint.json", "station-1.checkpoint.json", "station-1.faults.jsonl",
                    "station-1.status.json"]
    assert (target / "station-1.checkpoint.json").read_bytes() == b'{"seq": 4}'
    assert not (tmp_path / "escape.json").exists()
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["station-1"]  # no staging left


def test_containers_then_volumes_without_a_container(tmp_path: Path) -> None:
    fake = FakeDocker(FakeContainer("s1", "station-1", "p-station-1-1"), FakeContainer("b0", "broker", "p-b-1"))

    def engine(argv, timeout):
        fake.calls.append(list(argv))
        if argv[1] == "cp":
            return subprocess.CompletedProcess(argv, 0, tar_of(STATE), b"")
        if argv[1] == "volume":
            return subprocess.CompletedProcess(argv, 0, b"p_station-1-state\np_group-2-state\np_broker-data\n", b"")
        if argv[1] == "container":
            return subprocess.CompletedProcess(argv, 0, b"tmp123\n", b"")
        fake.calls.pop()
        return fake(argv, timeout)

    (tmp_path / "chaos").mkdir()
    collected = collect_state(Docker(run=engine), "p", tmp_path, image="img:1")
    assert [(c.service, c.files, c.source) for c in collected] == [("station-1", 4, "container"),
                                                                    ("group-2", 4, "volume")]
    assert fake.commands() == ["volume ls -q --filter label=com.docker.compose.project=p", "cp s1:/state -",
                               "container create --volume p_group-2-state:/state:ro img:1", "cp tmp123:/state -",
                               "rm --force tmp123"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chaos", "group-2", "station-1"]


def test_a_project_without_stations_is_refused(tmp_path: Path) -> None:
    fake = FakeDocker(FakeContainer("b0", "broker", "p-b-1"))
    with pytest.raises(ConfigError, match="compose project 'p' has no station or group container"):
        collect_state(Docker(run=fake), "p", tmp_path)
