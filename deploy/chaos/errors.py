"""The chaos kit's exceptions: one base, `ChaosError`; `ConfigError` (exit 2) for a bad scenario, project or
folder, any other `ChaosError` (exit 1) for a Docker call that failed."""

from __future__ import annotations

from fleetcore import errors


class ChaosError(errors.FleetError):
    """Base of every error `python -m deploy.chaos` reports to its user."""


class ConfigError(ChaosError, errors.ConfigError):
    """Invalid configuration: the scenario file, the compose project, a folder."""
