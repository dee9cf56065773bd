"""How `station run` ends: the reason its summary gives (`StopReason`) and its exit code (`ExitCode`), documented
in docs/failures.md (compose's restart policy relies on the codes)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Why `station run` ended. Every non-zero code comes after one line saying why and the summary."""

    OK = 0  # the file is done, or SIGTERM/SIGINT stopped the replay after the drain
    CONNECT_FAILED = 1  # the first connection to the broker did not succeed within CONNECT_TIMEOUT
    CONFIG = 2  # a configuration problem: a variable, the identity folder, DATA_FILE or STATE_DIR
    DATA_DAMAGED = 3  # the data file is damaged (every record before the damage was published) or has no record


class StopReason(enum.StrEnum):
    """Why a run ended: the summary's `reason`."""

    FINISHED = "finished"  # the file was read to its end (every pass with LOOP)
    FILE_DAMAGED = "file-damaged"  # reading stopped at a damaged part of the file, after its last good record
    NO_RECORDS = "no-records"  # not one decodable line in the file
    CONNECT_FAILED = "connect-failed"
    CONFIG_ERROR = "config-error"
    SIGTERM = "SIGTERM"  # stopped by a signal (after the drain)
    SIGINT = "SIGINT"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES.get(self, ExitCode.OK)


_EXIT_CODES = {StopReason.FILE_DAMAGED: ExitCode.DATA_DAMAGED, StopReason.NO_RECORDS: ExitCode.DATA_DAMAGED,
               StopReason.CONNECT_FAILED: ExitCode.CONNECT_FAILED, StopReason.CONFIG_ERROR: ExitCode.CONFIG}
