"""Errors the AWS deployment reports to the user: each names the variable, resource or command at fault."""

from __future__ import annotations

from pipeline.errors import ConfigError, PipelineError


class PipelineAwsError(PipelineError):
    """A deployment problem the user can fix; the message says how."""


class ConfigurationError(PipelineAwsError, ConfigError):
    """Missing or invalid configuration (credentials, region, names)."""


class ConflictError(PipelineAwsError):
    """A resource with one of the stack's names exists but was not created by this stack."""


class StateError(PipelineAwsError):
    """The state file is unreadable or belongs to another account, region or stack."""


class AccessError(PipelineAwsError):
    """AWS refused the credentials or the action (denied, unrecognised or expired): one line with the fix."""
