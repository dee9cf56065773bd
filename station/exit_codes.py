"""The exit codes of `station run` (documented in docs/failures.md; compose's restart policy relies on them)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Why `station run` ended. Every non-zero code comes after one line saying why and (once a replay started)
    the summary."""

    OK = 0  # the file is done, or SIGTERM/SIGINT stopped the replay after the drain
    CONNECT_FAILED = 1  # the first connection to the broker did not succeed within CONNECT_TIMEOUT
    CONFIG = 2  # a configuration problem: a variable, the identity folder, DATA_FILE or STATE_DIR
    DATA_DAMAGED = 3  # the data file is damaged (every record before the damage was published) or has no record
