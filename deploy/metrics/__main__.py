"""`python -m deploy.metrics config|up|down`: the fleet's Prometheus (make metrics-up / metrics-down / metrics-config).

    config   write FLEET_DIR/prometheus/{prometheus.yml,rules.yml} from the registered fleet (--swarm: DNS SD)
    up       config, then start the `metrics` compose profile (Prometheus and the broker exporter)
    down     stop and remove them (the `prometheus-data` volume stays; `make clean` removes it)

Compose runs as `python -m deploy` runs it (`deploy.compose.ComposeProject`: the fleet's files and environment).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy.compose import ComposeProject
from deploy.errors import ConfigError, DeployError
from deploy.metrics.config import write_config
from deploy.metrics.settings import load
from deploy.settings import load as load_deploy
from fleetcore.cli import run_command
from fleetcore.identity import METRICS_THING, PRIVATE_KEY_FILE, thing_dir

SERVICES = ["prometheus", "broker-metrics"]
PROFILE = ("--profile", "metrics")


def _project(args: argparse.Namespace) -> ComposeProject:
    return ComposeProject(load_deploy().model_copy(update={"fleet_dir": args.fleet_dir}))


def cmd_config(args: argparse.Namespace) -> int:
    folder = write_config(args.fleet_dir, load(), swarm=args.swarm)
    print(f"prometheus configuration written to {folder}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    s = load()
    write_config(args.fleet_dir, s)
    key = thing_dir(args.fleet_dir, METRICS_THING) / PRIVATE_KEY_FILE
    try:
        st = key.stat()
    except FileNotFoundError:
        raise ConfigError(f"no metrics identity at {key.parent}: run `make register`") from None
    # The exporter runs as the owner of the metrics identity's key, never as root.
    env = {"METRICS_UID": str(st.st_uid or 10001), "METRICS_GID": str(st.st_gid or 10001)}
    # Only these services' images are built (`up --build` would rebuild, and so recreate, the broker they need).
    _project(args).run(*PROFILE, "build", *SERVICES, extra_env=env)
    _project(args).run(*PROFILE, "up", "-d", *SERVICES, extra_env=env)
    print(f"Prometheus on http://127.0.0.1:{s.prometheus_port}/ (alerts: /alerts); "
          "`make dashboard-live` shows the fleet")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    project = _project(args)
    project.run(*PROFILE, "stop", *SERVICES)
    project.run(*PROFILE, "rm", "-f", *SERVICES)
    return 0


def build_parser(fleet_dir: Path) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy.metrics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet-dir", type=Path, default=fleet_dir, help="env FLEET_DIR (default %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    config = sub.add_parser("config", help="write the scrape configuration and rules")
    config.add_argument("--swarm", action="store_true", help="DNS service discovery of the stack's services")
    config.set_defaults(func=cmd_config)
    sub.add_parser("up", help="config, then start Prometheus and the broker exporter").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop Prometheus and the broker exporter (data kept)").set_defaults(func=cmd_down)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    def run() -> int | None:
        args = build_parser(load_deploy().fleet_dir).parse_args(argv)
        return args.func(args)

    return run_command(run, (DeployError,), "deploy.metrics")


if __name__ == "__main__":
    sys.exit(main())
