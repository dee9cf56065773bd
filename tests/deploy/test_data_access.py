"""What the station containers' user may read of DATA_DIR, judged from the host files' owners and modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy.data_access import summary, unreadable

# Who owns the test data: you, or (as root, whom no mode stops) a user made up for the test.
ME, MY_GROUP = (os.getuid(), os.getgid()) if os.getuid() else (23456, 23457)
OTHER = ME + 12345  # a user (and group) that owns nothing here, like the containers' 10001 on a developer's host


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "isd"
    folder.mkdir()
    for name in ("a.gz", "b.gz"):
        (folder / name).write_bytes(b"x")
        (folder / name).chmod(0o644)
    folder.chmod(0o755)
    if os.getuid() == 0:
        for path in (folder, *folder.iterdir()):
            os.chown(path, ME, MY_GROUP)
    return folder


def test_a_readable_folder_has_no_problem(data: Path) -> None:
    assert unreadable(data, ["a.gz", "b.gz"], OTHER, OTHER, whole_folder=True) == []


def test_a_private_folder_fails_group_containers_only(data: Path) -> None:
    data.chmod(0o700)  # what mktemp -d and pytest's tmp_path make
    problems = unreadable(data, ["a.gz", "b.gz"], OTHER, OTHER, whole_folder=True)
    assert problems == [f"{data} (mode 0700, owner {ME}:{MY_GROUP}) cannot be read by the stations' user "
                        f"{OTHER}:{OTHER}: `chmod o+rx {data}`"]
    # A single station mounts only its file: the folder's mode does not reach the container.
    assert unreadable(data, ["a.gz"], OTHER, OTHER, whole_folder=False) == []


def test_a_private_file_is_named_with_its_fix(data: Path) -> None:
    (data / "b.gz").chmod(0o600)
    problems = unreadable(data, ["a.gz", "b.gz"], OTHER, OTHER, whole_folder=False)
    assert len(problems) == 1 and problems[0].startswith(f"{data / 'b.gz'} (mode 0600")
    assert problems[0].endswith(f"`chmod o+r {data / 'b.gz'}`")


def test_owner_and_group_classes_apply_before_other(data: Path) -> None:
    data.chmod(0o750)
    (data / "a.gz").chmod(0o640)
    assert unreadable(data, ["a.gz"], ME, OTHER, whole_folder=True) == []          # the owner's bits
    assert unreadable(data, ["a.gz"], OTHER, MY_GROUP, whole_folder=True) == []    # the group's bits
    assert len(unreadable(data, ["a.gz"], OTHER, OTHER, whole_folder=True)) == 2   # other: neither
    data.chmod(0o005)  # other may search, the owner and group may not: the first class that applies decides
    assert unreadable(data, [], OTHER, OTHER, whole_folder=True) == []
    assert len(unreadable(data, [], ME, OTHER, whole_folder=True)) == 1
    assert len(unreadable(data, [], OTHER, MY_GROUP, whole_folder=True)) == 1


def test_missing_paths_and_root_are_not_judged(data: Path) -> None:
    data.chmod(0o700)
    assert unreadable(data, ["not-here.gz"], OTHER, OTHER, whole_folder=False) == []
    assert unreadable(data, ["a.gz"], 0, 0, whole_folder=True) == []


def test_summary_shows_the_first_lines_and_counts_the_rest() -> None:
    text = summary([f"p{i}" for i in range(8)])
    assert text.splitlines() == ["the station containers cannot read their data in DATA_DIR:", "p0", "p1", "p2",
                                 "p3", "p4", "... and 3 more"]
