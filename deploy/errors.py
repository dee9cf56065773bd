"""Deployment's exceptions: one base, `DeployError`, so `python -m deploy` catches exactly these (and the kernel's
`ManifestError`) and reports them as one line.

`ConfigError` (exit 2): a bad variable or option. `SwarmError` (deploy.swarm): the stack cannot be generated,
deployed, inspected or removed. Every other `DeployError` (exit 1) names the path or container at fault and the
`make` command that fixes it.
"""

from __future__ import annotations

from fleetcore import errors


class DeployError(errors.FleetError):
    """A deployment failure phrased for the user (path, container or variable at fault, and the fix)."""


class ConfigError(DeployError, errors.ConfigError):
    """Invalid configuration: a variable, an option, or a folder it names."""


class BrokerNotReadyError(DeployError):
    """The broker did not answer within the time allowed."""
