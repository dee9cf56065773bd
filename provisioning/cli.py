"""`python -m provisioning` (or `provisioning`): register / unregister the fleet's identities, show, watch.

Registration writes identities and the manifest only; `python -m deploy write` turns that manifest into the
deployment (`make register` runs both), and `python -m stationdata` fetches and selects the ISD files.

`--target local` (default) uses the local CA and Mosquitto; `--target aws` delegates to
`provisioning.aws.commands` (AWS IoT Core), imported only when needed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from fleetcore.cli import run_command
from fleetcore.errors import ManifestError
from fleetcore.target import Target
from fleetcore.topic import monitor_filter
from provisioning.errors import ConfigError, ProvisioningError
from provisioning.settings import MAX_FLEET_COUNT, FleetSettings, load
from stationdata.errors import StationDataError

AWS_COMMANDS = "provisioning.aws.commands"


def _aws_module() -> ModuleType | None:
    """provisioning.aws.commands when installed, else None."""
    try:
        if importlib.util.find_spec(AWS_COMMANDS) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(AWS_COMMANDS)


def _common(p: argparse.ArgumentParser, s: FleetSettings) -> None:
    p.add_argument("--target", type=Target, choices=list(Target), default=s.target,
                   help="local CA + Mosquitto, or AWS IoT Core (env TARGET, default %(default)s)")
    p.add_argument("--fleet-dir", type=Path, default=s.fleet_dir, help="identity folder (env FLEET_DIR, "
                   "default %(default)s)")
    p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")


def _register_args(p: argparse.ArgumentParser, s: FleetSettings) -> None:
    _common(p, s)
    p.add_argument("--count", type=int, default=s.fleet_count, help="number of stations (env FLEET_COUNT, "
                   "default %(default)s)")
    p.add_argument("--prefix", default=s.fleet_prefix, help="thing-name prefix (env FLEET_PREFIX, "
                   "default %(default)s)")
    p.add_argument("--data-dir", type=Path, default=s.data_dir, help="ISD files to assign (env DATA_DIR, "
                   "default %(default)s)")
    p.add_argument("--force", action="store_true", help="rotate every key and certificate (the local CA is kept)")


def build_parser(settings: FleetSettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="provisioning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    aws = _aws_module()

    reg = sub.add_parser("register", help="create (or keep) the fleet's identities and manifest",
                         conflict_handler="resolve")
    _register_args(reg, settings)
    reg.set_defaults(_run=cmd_register)

    unreg = sub.add_parser("unregister", help="delete the fleet's identities (what register created, only that)",
                           conflict_handler="resolve")
    _common(unreg, settings)
    unreg.add_argument("--force", action="store_true", help="local: delete the CA as well")
    unreg.set_defaults(_run=cmd_unregister)

    if aws is not None and hasattr(aws, "add_arguments"):
        for p in (reg, unreg):
            aws.add_arguments(p.add_argument_group("AWS IoT Core (--target aws)"))

    show = sub.add_parser("show", help="print the fleet manifest as a table")
    show.add_argument("--fleet-dir", type=Path, default=settings.fleet_dir)
    show.set_defaults(_run=cmd_show)

    watch = sub.add_parser("watch", help="subscribe with the monitor identity and print messages")
    watch.add_argument("--fleet-dir", type=Path, default=settings.fleet_dir)
    watch.add_argument("--host", default="127.0.0.1", help="broker host (default %(default)s)")
    watch.add_argument("--port", type=int, default=settings.broker_port, help="broker port (env BROKER_PORT, "
                       "default %(default)s)")
    watch.add_argument("--topic", default=None,
                       help="topic filter (default: the fleet's TOPIC and below, e.g. "
                       f"{monitor_filter(settings.topic)}: what the monitor may read)")
    watch.add_argument("--limit", type=int, default=0, help="stop after N messages (0: never)")
    watch.add_argument("--timeout", type=float, default=0.0, help="stop after N seconds (0: never)")
    watch.add_argument("--wait", type=float, default=settings.broker_wait_seconds,
                       help="seconds to wait for a broker that is still starting (env BROKER_WAIT_SECONDS, "
                       "default %(default)s)")
    watch.set_defaults(_run=cmd_watch)

    return parser


def cmd_register(args: argparse.Namespace) -> int:
    s: FleetSettings = args._settings
    if args.target == Target.AWS:
        code = _delegate_aws("register", args)
        if code == 0 and not args.dry_run:
            from fleetcore.manifest import load_manifest, manifest_path
            from provisioning.register_local import hand_over_station_identities

            from stationdata.station_names import write_station_names

            if manifest_path(args.fleet_dir).is_file():
                manifest = load_manifest(args.fleet_dir)
                hand_over_station_identities(args.fleet_dir, manifest, s.fleet_uid, s.fleet_gid)
                write_station_names(args.fleet_dir, manifest.things, args.data_dir)
        return code
    from provisioning.register_local import LocalFleetRequest, register_local

    if not 1 <= args.count <= MAX_FLEET_COUNT:
        raise ConfigError(f"--count (FLEET_COUNT) must be between 1 and {MAX_FLEET_COUNT}, not {args.count}")
    outcome = register_local(LocalFleetRequest(
        fleet_dir=args.fleet_dir, data_dir=args.data_dir, prefix=args.prefix, count=args.count, topic=s.topic,
        hostnames=s.hostnames(), port=s.broker_port, force=args.force, dry_run=args.dry_run,
        owner=(s.fleet_uid, s.fleet_gid)))
    _print_paths("would write" if args.dry_run else "wrote", outcome.written)
    _print_paths("would remove" if args.dry_run else "removed", outcome.removed)
    if outcome.cycling:
        print(f"note: {outcome.cycling}")
    stations = outcome.manifest.stations()
    state = "unchanged" if not outcome.written and not outcome.removed else ("planned" if args.dry_run else "ready")
    print(f"local fleet {state}: {len(stations)} stations + monitor in {args.fleet_dir} "
          f"({stations[0].thing_name} .. {stations[-1].thing_name})")
    return 0


def _print_paths(verb: str, paths: list[Path], shown: int = 20) -> None:
    """One line per path; past `shown` of them, a count (a 10,000-station fleet writes about 60,000 files)."""
    for p in paths[:shown]:
        print(f"{verb} {p}")
    if len(paths) > shown:
        print(f"{verb} {len(paths) - shown} more files")


def cmd_unregister(args: argparse.Namespace) -> int:
    if args.target == Target.AWS:
        return _delegate_aws("unregister", args)
    from provisioning.register_local import unregister_local

    removed = unregister_local(args.fleet_dir, remove_ca=args.force, dry_run=args.dry_run)
    for p in removed:
        print(f"{'would remove' if args.dry_run else 'removed'} {p}")
    if not removed:
        print(f"nothing to remove in {args.fleet_dir}")
    return 0


def _delegate_aws(verb: str, args: argparse.Namespace) -> int:
    aws = _aws_module()
    if aws is None or not hasattr(aws, verb):
        print(f"--target aws needs {AWS_COMMANDS}, which is not installed in this checkout "
              f"(it comes with the AWS IoT Core part of weather-fleet); use --target local (TARGET=local)",
              file=sys.stderr)
        return 2
    return int(getattr(aws, verb)(args) or 0)


def cmd_show(args: argparse.Namespace) -> int:
    from fleetcore.manifest import load_manifest

    m = load_manifest(args.fleet_dir)
    print(f"target={m.target} endpoint={m.endpoint}:{m.port} topic={m.topic} prefix={m.prefix}")
    for t in m.things:
        print(f"  {t.thing_name:<24} {t.role:<8} {t.station_id or '-':<13} {t.isd_file or '-':<24} "
              f"{t.certificate_sha256[:16]}  {t.station_name or ''}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from provisioning.watch import watch

    return watch(args.fleet_dir, args.host, args.port, topic_filter=args.topic, limit=args.limit,
                 timeout=args.timeout, wait=args.wait)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 done, 2 configuration error, 1 any other provisioning error (one line each on stderr)."""
    def run() -> int | None:
        settings = load(FleetSettings)
        args = build_parser(settings).parse_args(argv)
        args._settings = settings
        return args._run(args)

    return run_command(run, (ProvisioningError, StationDataError, ManifestError), "provisioning")


if __name__ == "__main__":
    sys.exit(main())
