"""Exception bases. Every package has one base (`StationError`, `ProvisioningError`, `PipelineError`,
`DeployError`, `StationDataError`) derived
from `FleetError`, so a CLI catches its own package's errors, shows their one-line message, and lets bugs surface
as tracebacks.

Exit codes every CLI uses for them: `CONFIG_EXIT` (2) for a `ConfigError` (fix the environment, `.env` or a
file it names), `FAILURE_EXIT` (1) for any other `FleetError`.
"""

from __future__ import annotations

import sys
from typing import TextIO

CONFIG_EXIT = 2
FAILURE_EXIT = 1


class FleetError(Exception):
    """A failure already phrased for the user: one line (or a few), naming the variable or path at fault and the
    command that fixes it."""


class ConfigError(FleetError):
    """Invalid or missing configuration (environment, `.env`, files named by it)."""


class ManifestError(FleetError):
    """The fleet manifest (FLEET_DIR/manifest.json, `fleetcore.manifest`) is missing, unreadable or lacks a thing.
    Every CLI that reads the manifest (provisioning, deploy) reports it beside its own package's errors."""


def exit_code(exc: FleetError) -> int:
    """2 for a configuration error, 1 for any other failure."""
    return CONFIG_EXIT if isinstance(exc, ConfigError) else FAILURE_EXIT


def report(exc: FleetError, prog: str, stream: TextIO | None = None) -> int:
    """Print `prog: <line>` for each line of `exc` on stderr; return its exit code."""
    out = stream or sys.stderr
    for line in (str(exc) or type(exc).__name__).splitlines():
        print(f"{prog}: {line}", file=out)
    return exit_code(exc)
