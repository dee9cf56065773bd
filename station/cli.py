"""`station` command line: one subcommand per module in `station.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from fleetcore.cli import run_command
from station.errors import StationError

# subcommand name -> (module under station.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("inspect", "summarise an ISD file: records, time span, sections, skipped lines"),
    "convert": ("convert", "convert an ISD file to weather messages as JSON lines"),
    "run": ("run", "replay an ISD file to the broker (what the container runs)"),
    "send-hello": ("send_hello", "publish N test messages to hello/world (the lab's first step)"),
    "health": ("health", "exit 0 when the running station is healthy (compose healthcheck)"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's module is imported: `station health` (the healthcheck of
    every container, every 15 s) then costs a few CPU-ms instead of importing awscrt, pydantic-settings and the
    decoder (about 0.35 CPU-s; ten group containers spent a tenth of this 2-core host on it, issue 22)."""
    parser = argparse.ArgumentParser(prog="station", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(f"station.commands.{module_name}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (a StationError: 2 for configuration, 1 otherwise)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    return run_command(lambda: args._run(args), (StationError,), "station")


if __name__ == "__main__":
    sys.exit(main())
