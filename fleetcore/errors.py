"""Exception bases. Every package has one base (`StationError`, `ProvisioningError`, `PipelineError`) derived
from `FleetError`, so a CLI catches its own package's errors, shows their one-line message, and lets bugs surface
as tracebacks."""

from __future__ import annotations


class FleetError(Exception):
    """A failure already phrased for the user: one line (or a few), naming the variable or path at fault and the
    command that fixes it."""


class ConfigError(FleetError):
    """Invalid or missing configuration (environment, `.env`, files named by it)."""
