"""`python -m deploy.chaos`: fleet faults on the running compose fleet, and its stations' state for the audit.

    python -m deploy.chaos run --faults FILE --project P --state DIR    the `fleet:` section of FILE, on schedule
    python -m deploy.chaos plan --faults FILE --project P               print the schedule, change nothing
    python -m deploy.chaos collect-state --project P --into DIR         copy the stations' STATE_DIR out

`make chaos` and `make audit` call it (docs/faults.md). `run` ends by itself after the last scheduled restore;
SIGINT or SIGTERM restore at once whatever it changed (unpause, reconnect, start) and end it. Exit 0 when every
action ran, 1 when a Docker call failed (the others still ran and were restored), 2 for a bad scenario or project.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from deploy.chaos.collect import collect_state
from deploy.chaos.docker import Docker
from deploy.chaos.errors import ChaosError, ConfigError
from deploy.chaos.plan import Plan, make_plan
from deploy.chaos.runner import ChaosRunner
from fleetcore.cli import run_command
from fleetcore.faults.scenario import load_scenario
from fleetcore.faults.truth import GroundTruthLog, truth_path

PROCESS = "chaos"


def _plan(args: argparse.Namespace, docker: Docker) -> Plan:
    if not args.faults:
        raise ConfigError("no scenario: give one with FAULTS=path (`make chaos FAULTS=contracts/faults/storm.yaml`)")
    scenario = load_scenario(args.faults, ConfigError)
    return make_plan(scenario, docker.containers(args.project), args.project, f"FAULTS={args.faults}")


def _describe(plan: Plan) -> str:
    lines = [f"{len(plan.steps)} fleet fault(s) over {plan.duration:g} s (seed {plan.seed}):"]
    for s in plan.steps:
        lines.append(f"  at {s.at:7.1f} s  {s.kind.value:15} {s.service:12} for {s.seconds:g} s  ({s.name})")
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> int:
    print(_describe(_plan(args, Docker())))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    docker = Docker()
    plan = _plan(args, docker)
    print(_describe(plan), flush=True)
    path = truth_path(args.state, PROCESS)
    try:
        truth = GroundTruthLog(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the ground-truth folder {args.state}: {exc.strerror or exc}") from None
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    outcome = ChaosRunner(docker, plan, truth, grace_s=args.grace).run(stop)
    state = "interrupted: restored what it had changed" if outcome.interrupted else "done"
    print(f"chaos {state}; {outcome.actions} action(s) recorded in {path}"
          + (f"; {len(outcome.failures)} failed" if outcome.failures else ""))
    for failure in outcome.failures:
        print(f"  failed: {failure}", file=sys.stderr)
    return 1 if outcome.failures else 0


def cmd_collect(args: argparse.Namespace) -> int:
    collected = collect_state(Docker(), args.project, args.into, args.image)
    for c in collected:
        print(f"{c.service}: {c.files} state file(s) from its {c.source} -> {args.into / c.service}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploy.chaos", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (("run", cmd_run, "run the scenario's fleet faults on schedule"),
                             ("plan", cmd_plan, "print the schedule and change nothing")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--faults", type=Path, help="the scenario file (FAULTS)")
        p.add_argument("--project", required=True, help="the compose project (COMPOSE_PROJECT_NAME)")
        if name == "run":
            p.add_argument("--state", type=Path, required=True,
                           help="folder of the ground-truth log (chaos.faults.jsonl); `make audit` reads it")
            p.add_argument("--grace", type=int, default=10, help="seconds `docker stop` waits (broker_restart)")
        p.set_defaults(func=func)
    collect = sub.add_parser("collect-state", help="copy the stations' state files out of the fleet")
    collect.add_argument("--project", required=True, help="the compose project (COMPOSE_PROJECT_NAME)")
    collect.add_argument("--into", type=Path, required=True, help="host folder: one sub-folder per service")
    collect.add_argument("--image", help="image to read a state volume whose container is gone (STATION_IMAGE)")
    collect.set_defaults(func=cmd_collect)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: args.func(args), (ChaosError,), f"deploy.chaos {args.command}",
                       log_level=args.log_level)
