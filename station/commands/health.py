"""`station health`: exit 0 when the station is healthy (connected and publishing, or finished), else 1.

For compose's healthcheck: reads the status file the running station keeps in STATE_DIR
(`<THING_NAME>.status.json`; with no THING_NAME, the only status file there).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from station.status import assess, read_status, status_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, default=None, help="default: env STATE_DIR or .state")
    parser.add_argument("--thing-name", default=None, help="default: env THING_NAME")
    parser.add_argument("--max-age", type=float, default=30.0,
                        help="seconds after which an unchanged status counts as hung (default 30)")


def run(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or Path(os.environ.get("STATE_DIR", ".state"))
    if os.environ.get("SHARD_FILE", "").strip() and not args.thing_name:
        return _group_health(state_dir, args.max_age)
    thing = args.thing_name or os.environ.get("THING_NAME")
    if thing:
        path = status_path(state_dir, thing)
    else:
        found = sorted(state_dir.glob("*.status.json"))
        if len(found) != 1:
            print(f"unhealthy: set THING_NAME ({len(found)} status files in {state_dir})", file=sys.stderr)
            return 1
        path = found[0]
    return _report(path, "station", lambda status: assess(status, args.max_age))


def _group_health(state_dir: Path, max_age: float) -> int:
    """Group mode: the group's status file and rule (`station.group.status`)."""
    from station.group.status import assess_group, group_status_path

    return _report(group_status_path(state_dir), "group", lambda status: assess_group(status, max_age))


def _report(path: Path, what: str, judge: Callable[[dict], tuple[bool, str]]) -> int:
    """Read the status file at `path`, judge it, print one line (stdout when healthy); 0 healthy, 1 unhealthy."""
    try:
        status = read_status(path)
    except FileNotFoundError:
        print(f"unhealthy: no status file {path} ({what} not started yet?)", file=sys.stderr)
        return 1
    except ValueError:
        print(f"unhealthy: unreadable status file {path}", file=sys.stderr)
        return 1
    healthy, reason = judge(status)
    print(("healthy: " if healthy else "unhealthy: ") + reason, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1
