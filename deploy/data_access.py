"""Can the station containers' user read the data they are given? Judged on this host from the files' modes.

Station containers never run as root: compose's run as FLEET_UID:FLEET_GID, Swarm's as the image's user 10001,
with no supplementary group. What they can read of a bind mount is decided by the host file's owner and mode:
- a single station mounts its one file, so only that file needs to be readable (`r`) by that user;
- a group container mounts all of DATA_DIR, so the folder must also be searchable (`x`) by that user.
The folders above a mounted path do not matter (the engine resolves them, as root). A missing path is not
judged here: on a swarm the data may live only on the station nodes.

A private folder made by `mktemp -d` or pytest's tmp_path (mode 0700) is the usual culprit: every station of a
group container then fails with "Permission denied".
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from fleetcore.manifest import Thing

READ, SEARCH = 4, 1  # permission bits of one class (owner, group or other)


def _bits(mode: int, owner: int, group: int, uid: int, gid: int) -> int:
    """The permission bits that apply to uid:gid (POSIX: the owner class, else the group class, else other)."""
    if uid == owner:
        return (mode >> 6) & 7
    if gid == group:
        return (mode >> 3) & 7
    return mode & 7


def _problem(path: Path, uid: int, gid: int, *, folder: bool) -> str | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if uid == 0:
        return None
    need = READ | SEARCH if folder else READ
    if _bits(st.st_mode, st.st_uid, st.st_gid, uid, gid) & need == need:
        return None
    fix = "o+rx" if folder else "o+r"
    return (f"{path} (mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}:{st.st_gid}) cannot be read by the "
            f"stations' user {uid}:{gid}: `chmod {fix} {path}`")


def unreadable(data_dir: Path, files: Iterable[str], uid: int, gid: int, *, whole_folder: bool) -> list[str]:
    """One line per path under `data_dir` the user uid:gid could not read in a container (see the module
    docstring); `whole_folder` when the containers mount DATA_DIR itself (group containers)."""
    data_dir = Path(data_dir).resolve()
    problems: list[str] = []
    if whole_folder:
        found = _problem(data_dir, uid, gid, folder=True)
        if found:
            problems.append(found)
    for name in sorted(set(files)):
        found = _problem(data_dir / name, uid, gid, folder=False)
        if found:
            problems.append(found)
    return problems


def unreadable_for(data_dir: Path, stations: Iterable[Thing], uid: int, gid: int, *, whole_folder: bool) -> list[str]:
    """`unreadable` for the ISD files of `stations` (the manifest's; a shard names the same files)."""
    return unreadable(data_dir, [t.isd_file for t in stations if t.isd_file], uid, gid, whole_folder=whole_folder)


def summary(problems: list[str], variable: str = "DATA_DIR", shown: int = 5) -> str:
    """The problems as one message: the first `shown` lines, then how many more."""
    more = f"\n... and {len(problems) - shown} more" if len(problems) > shown else ""
    return (f"the station containers cannot read their data in {variable}:\n" + "\n".join(problems[:shown]) + more)
