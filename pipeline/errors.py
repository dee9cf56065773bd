"""The pipeline's exceptions: one base, `PipelineError`, so `pipeline` and `python -m pipeline.aws` catch exactly
these.

`ConfigError` (exit 2): a bad variable, a missing identity, an unknown query name or dialect. Every other
`PipelineError` (exit 1): the broker is unreachable, the lake is empty, the warehouse is locked, an AWS call failed.
"""

from __future__ import annotations

from fleetcore import errors


class PipelineError(errors.FleetError):
    """Base of every error the pipeline reports to its user."""


class ConfigError(PipelineError, errors.ConfigError):
    """Invalid configuration: a variable, a file it names, or an option."""
