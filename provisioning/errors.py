"""Provisioning's exceptions: one base, `ProvisioningError`, so `python -m provisioning` (and
`python -m provisioning.aws`) catch exactly these.

`ConfigError` (exit 2): a bad variable or option, DATA_DIR without ISD files, missing AWS credentials or region.
`FleetStateError` (exit 1): the fleet folder holds something register/unregister cannot work with (half a CA,
another target's manifest, no manifest yet); the message names the folder and the `make` command that fixes it.
"""

from __future__ import annotations

from fleetcore import errors


class ProvisioningError(errors.FleetError):
    """Base of every error provisioning reports to its user."""


class ConfigError(ProvisioningError, errors.ConfigError):
    """Invalid configuration: a variable, an option, or a folder it names."""


class FleetStateError(ProvisioningError):
    """The fleet folder (FLEET_DIR) is not in a state this command can work with."""
