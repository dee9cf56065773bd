"""The swarm part's exception: a failure phrased for the user (what failed, and the command that fixes it)."""

from __future__ import annotations

from deploy.errors import DeployError


class SwarmError(DeployError):
    """Deploying, inspecting or removing the fleet's stack failed, or the stack cannot be generated."""
