"""What every package's command line does alike (`python -m deploy`, `pipeline`, `provisioning`, `station`, ...):
run one command, show the package's own errors as one line each on stderr with their exit code
(`fleetcore.errors.report`), and let anything else (a bug) surface as a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from fleetcore.errors import FleetError, report

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_command(command: Callable[[], int | None], own_errors: tuple[type[FleetError], ...], prog: str, *,
                log_level: str | None = None) -> int:
    """`command()`'s exit code (None: 0); an error of `own_errors` is reported as `prog: <line>` and gives its exit
    code (2 configuration, 1 otherwise). `log_level` (e.g. "info"): log records go to stderr at that level."""
    if log_level is not None:
        logging.basicConfig(level=log_level.upper(), stream=sys.stderr, format=LOG_FORMAT)
    try:
        return int(command() or 0)
    except own_errors as exc:
        return report(exc, prog)
