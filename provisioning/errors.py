"""The provisioning package's exception base: what `python -m provisioning` reports as one line and exit 1."""

from __future__ import annotations

from fleetcore.errors import FleetError


class ProvisioningError(FleetError):
    """A provisioning failure phrased for the user (path or variable at fault, and the command that fixes it)."""


class CatalogueError(ProvisioningError):
    """The station catalogue (isd-history.csv) cannot be read, fetched or parsed."""


class NoNetworkError(ProvisioningError):
    """No data source could be reached at all (no internet, or every mirror down)."""
