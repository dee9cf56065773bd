"""The station's exceptions: one base, `StationError`, so `station` commands catch exactly these.

`ConfigError` (exit 2) is a bad variable or a missing file; every other `StationError` exits 1.
"""

from __future__ import annotations

from fleetcore import errors


class StationError(errors.FleetError):
    """Base of every error the station reports to its user (one line each, naming the variable or path)."""


class ConfigError(StationError, errors.ConfigError):
    """A configuration problem: a variable, the identity folder, DATA_FILE or STATE_DIR."""


class ConnectError(StationError):
    """The first connection did not succeed in time; the message says why and what to check."""
