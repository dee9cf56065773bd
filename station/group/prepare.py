"""A group's start: open each data file's message cache once, check every station's identity and state folder,
and set each lane's start point from its checkpoint. A station that cannot start fails alone (its reason in the
logs and the status file); the others go on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from station.engine.cache import CacheError, MessageCache, open_cache, source_digest
from station.engine.feed import CacheFeed
from station.engine.lane import Lane, LaneState
from station.exit_codes import StopReason
from station.group.settings import GroupSettings
from station.logging_setup import emit
from station.settings import TimeMode

log = logging.getLogger("station.group")


def unreadable_data(path: Path, data_dir: Path) -> str:
    """The failure of a data file the container's user may not read (a bind mount keeps the host's modes)."""
    return (f"data file not readable: {path} (Permission denied for uid {os.getuid()}, gid {os.getgid()}): "
            f"the folder mounted at DATA_DIR={data_dir} must be searchable and its files readable by that user on "
            f"the host, e.g. `chmod o+rx <DATA_DIR>` and `chmod o+r <DATA_DIR>/*`")


def fail(lane: Lane, reason: str, why: StopReason) -> None:
    """Mark `lane` failed for `reason` (`why`: the reason a single station would end with, and its exit code)."""
    lane.state = LaneState.FAILED
    lane.summary.reason = why
    lane.summary.failure = reason
    emit(log, logging.ERROR, "station-failed", reason, thing=lane.name)


@dataclass
class DataFiles:
    """The group's data files: an open cache and its fingerprint each, or why the file cannot be replayed."""

    caches: dict[Path, MessageCache] = field(default_factory=dict)
    fingerprints: dict[Path, str] = field(default_factory=dict)
    unusable: dict[Path, tuple[str, StopReason]] = field(default_factory=dict)

    def open(self, path: Path, s: GroupSettings) -> None:
        if path in self.caches or path in self.unusable:
            return
        try:
            digest = source_digest(path)
            started = time.perf_counter()
            cache, produced = open_cache(path, s.effective_cache_dir, shifted=s.time_mode is TimeMode.SHIFTED,
                                         digest=digest)
        except FileNotFoundError:
            self.unusable[path] = (f"data file not found: {path} (DATA_DIR={s.data_dir}, data_file in the shard)",
                                   StopReason.CONFIG_ERROR)
            return
        except PermissionError:
            self.unusable[path] = (unreadable_data(path, s.data_dir), StopReason.CONFIG_ERROR)
            return
        except (OSError, CacheError) as exc:
            self.unusable[path] = (str(exc), StopReason.CONFIG_ERROR)
            return
        if cache.file_error:  # as a single station: logged once, every record before the damage is replayed
            emit(log, logging.ERROR, "file-damaged", cache.file_error, file=str(path), records=len(cache))
        if not len(cache):  # as a single station: a file with no record to replay is a data failure
            why = (f"is damaged: {cache.file_error}" if cache.file_error else
                   f"has no decodable record ({cache.skipped_count} lines skipped; `station inspect` shows why)")
            self.unusable[path] = (f"data file {path} {why}", StopReason.FILE_DAMAGED if cache.file_error
                                   else StopReason.NO_RECORDS)
            cache.close()
            return
        self.caches[path] = cache
        self.fingerprints[path] = "sha256:" + digest[1]
        emit(log, logging.INFO, "cache", "made" if produced else "reused", file=path.name, records=len(cache),
             skipped_lines=cache.skipped_count, seconds=round(time.perf_counter() - started, 2),
             cache_dir=str(s.effective_cache_dir))
        if cache.skipped_count:
            emit(log, logging.WARNING, "skipped-lines", f"{cache.skipped_count} damaged lines skipped",
                 file=path.name, first=cache.skipped[0] if cache.skipped else None)

    def close(self) -> None:
        for cache in self.caches.values():
            cache.close()


def prepare(lanes: list[Lane], s: GroupSettings, files: DataFiles,
            identity_problems: Callable[[Lane], list[str]]) -> list[int]:
    """Open the caches, check identities and checkpoints; the indexes of the lanes that need a connection."""
    for lane in lanes:
        files.open(lane.data_file, s)
    to_connect: list[int] = []
    done_already = 0
    for i, lane in enumerate(lanes):
        failure = files.unusable.get(lane.data_file)
        if failure is not None:
            fail(lane, *failure)
            continue
        problems = identity_problems(lane)
        if problems:
            fail(lane, "; ".join(problems), StopReason.CONFIG_ERROR)
            continue
        try:
            lane.checkpoint_file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(lane, f"state folder cannot be created: {lane.checkpoint_file.parent} (STATE_DIR): "
                 f"{exc.strerror}", StopReason.CONFIG_ERROR)
            continue
        if not lane.resume(CacheFeed(files.caches[lane.data_file]), files.fingerprints[lane.data_file],
                           start_at=s.start_at, loop=s.loop):
            lane.state = LaneState.FINISHED
            done_already += 1
            continue
        to_connect.append(i)
    if done_already:
        emit(log, logging.INFO, "finished", f"{done_already} stations have nothing to replay: their checkpoints "
             "say the file was fully acknowledged (delete the checkpoints to replay again, or set LOOP=true)")
    return to_connect

