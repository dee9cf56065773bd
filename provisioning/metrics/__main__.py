"""`python -m provisioning.metrics config|up|down`: the fleet's Prometheus (make metrics-up / metrics-down).

    config   write FLEET_DIR/prometheus/{prometheus.yml,rules.yml} from the registered fleet (--swarm: DNS SD)
    up       config, then start the `metrics` compose profile (Prometheus and the broker exporter)
    down     stop and remove them (the `prometheus-data` volume stays; `make clean` removes it)
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from fleetcore.errors import report
from fleetcore.identity import METRICS_THING, PRIVATE_KEY_FILE, thing_dir
from provisioning.errors import ConfigError, ProvisioningError
from provisioning.metrics.config import write_config
from provisioning.metrics.settings import load

SERVICES = ["prometheus", "broker-metrics"]


def _compose(args: argparse.Namespace, *rest: str, env: dict[str, str] | None = None) -> int:
    command = [*shlex.split(args.compose), "--profile", "metrics", *rest]
    return subprocess.run(command, env={**os.environ, **(env or {})}, check=False).returncode


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
    code = _compose(args, "up", "-d", "--build", *SERVICES, env=env)
    if code == 0:
        print(f"Prometheus on http://127.0.0.1:{s.prometheus_port}/ (alerts: /alerts); "
              "`make dashboard-live` shows the fleet")
    return code


def cmd_down(args: argparse.Namespace) -> int:
    code = _compose(args, "stop", *SERVICES)
    return code or _compose(args, "rm", "-f", *SERVICES)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m provisioning.metrics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet-dir", type=Path, default=Path(os.environ.get("FLEET_DIR", ".fleet")))
    parser.add_argument("--compose", default="docker compose", help="the compose command with its -f/--env-file")
    sub = parser.add_subparsers(dest="command", required=True)
    config = sub.add_parser("config", help="write the scrape configuration and rules")
    config.add_argument("--swarm", action="store_true", help="DNS service discovery of the stack's services")
    config.set_defaults(func=cmd_config)
    sub.add_parser("up", help="config, then start Prometheus and the broker exporter").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop Prometheus and the broker exporter (data kept)").set_defaults(func=cmd_down)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ProvisioningError as exc:
        return report(exc, "provisioning.metrics")


if __name__ == "__main__":
    sys.exit(main())
