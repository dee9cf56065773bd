"""`python -m provisioning.aws register|unregister|plan|cost|doctor` (until the `fleet` CLI calls these for --target aws)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fleetcore.cli import run_command
from fleetcore.errors import ManifestError
from provisioning.aws import commands
from provisioning.errors import ProvisioningError
from stationdata.errors import StationDataError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m provisioning.aws", description=commands.__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, func, help_text in [
        ("register", commands.register, "register the fleet in AWS IoT Core (idempotent)"),
        ("unregister", commands.unregister, "delete exactly the resources the manifest lists"),
        ("plan", commands.plan, "print what register would create (no AWS call)"),
        ("cost", commands.cost, "print messages, duration and cost of replaying the fleet"),
        ("doctor", commands.doctor, "read-only checks (credentials, region, endpoint, roles, quotas) before a run"),
    ]:
        p = sub.add_parser(name, help=help_text, description=help_text)
        commands.add_shared_arguments(p)
        commands.add_arguments(p)
        p.set_defaults(_run=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 done, 2 configuration error, 1 any other provisioning error (one line each on stderr)."""
    def run() -> int | None:
        args = build_parser().parse_args(argv)
        return args._run(args)

    return run_command(run, (ProvisioningError, StationDataError, ManifestError), "provisioning.aws")


if __name__ == "__main__":
    sys.exit(main())
