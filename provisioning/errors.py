"""Provisioning's exceptions: one base, `ProvisioningError`, so `python -m provisioning` (and
`python -m provisioning.aws`) catch exactly these and report them as one line (with the errors of what
registration reads: `stationdata.errors.StationDataError` for DATA_DIR, `fleetcore.errors.ManifestError`).

`ConfigError` (exit 2): a bad variable or option, DATA_DIR without ISD files, missing AWS credentials or region.
Every other `ProvisioningError` (exit 1), e.g. `FleetStateError`: the fleet folder holds something
register/unregister cannot work with (half a CA, another target's manifest, no manifest yet); the message names
the folder and the `make` command that fixes it.
"""

from __future__ import annotations

from fleetcore import errors


class ProvisioningError(errors.FleetError):
    """A provisioning failure phrased for the user (path or variable at fault, and the command that fixes it)."""


class ConfigError(ProvisioningError, errors.ConfigError):
    """Invalid configuration: a variable, an option, or a folder it names."""


class FleetStateError(ProvisioningError):
    """The fleet folder (FLEET_DIR) is not in a state this command can work with."""
