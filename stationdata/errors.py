"""Station data's exceptions: one base, `StationDataError`, so `python -m stationdata` catches exactly these and
reports them as one line.

`ConfigError` (exit 2): a bad variable or option, DATA_DIR without the ISD files wanted. `CatalogueError`: the
station catalogue cannot be read, fetched or parsed.
"""

from __future__ import annotations

from fleetcore import errors


class StationDataError(errors.FleetError):
    """A station-data failure phrased for the user (path or variable at fault, and the command that fixes it)."""


class ConfigError(StationDataError, errors.ConfigError):
    """Invalid configuration: a variable, an option, or a folder it names (DATA_DIR)."""


class CatalogueError(StationDataError):
    """The station catalogue (isd-history.csv) cannot be read, fetched or parsed."""

