"""`python -m provisioning` (or `provisioning`): register / unregister the fleet's identities, and friends.

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
from typing import TYPE_CHECKING

from fleetcore.errors import report
from fleetcore.target import Target
from fleetcore.topic import monitor_filter
from provisioning.errors import ConfigError, ProvisioningError
from provisioning.settings import MAX_FLEET_COUNT, MAX_STATION_CONTAINERS, FleetSettings, load

if TYPE_CHECKING:
    from provisioning.manifest import Thing

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
    p.add_argument("--stations-per-container", type=int, default=s.stations_per_container,
                   help="stations one container runs: > 1 writes shards and group services (env "
                   "STATIONS_PER_CONTAINER, default %(default)s)")


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
    watch.set_defaults(_run=cmd_watch)

    from provisioning import catalogue_cli
    from provisioning.data_settings import DataSourceName

    stations = sub.add_parser("stations", help="select stations from the NOAA ISD catalogue (isd-history.csv)")
    catalogue_cli.add_arguments(stations, settings.data_dir)
    stations.set_defaults(_run=cmd_stations)

    data = sub.add_parser("data", help="make sure DATA_DIR holds the station-years wanted (the lab's five by "
                          "default; --stations or selection flags for others), downloading the missing ones")
    catalogue_cli.add_arguments(data, settings.data_dir, with_json=False)
    data.add_argument("--stations", default=None, metavar="LIST", help="station-years USAF-WBAN-YEAR (or USAF-WBAN "
                      "with --year), comma-separated (make STATIONS=)")
    data.add_argument("--source", choices=[n.value for n in DataSourceName], default=None,
                      help="source tried first (env DATA_SOURCE, default ncei); the other is the fallback")
    data.add_argument("--workers", type=int, default=None, help="concurrent downloads (env DATA_WORKERS)")
    data.add_argument("--check", action="store_true", help="only check, never download")
    data.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="progress bar on stderr (default: when stderr is a terminal)")
    data.set_defaults(_run=cmd_data)

    from provisioning.swarm.commands import add_parser as add_stack_parser
    add_stack_parser(sub, settings.fleet_dir, settings.data_dir)
    return parser


def cmd_register(args: argparse.Namespace) -> int:
    s: FleetSettings = args._settings
    if args.target == Target.AWS:
        code = _delegate_aws("register", args)
        if code == 0 and not args.dry_run:
            from provisioning.manifest import load_manifest, manifest_path
            from provisioning.register_local import hand_over_station_identities

            from provisioning.station_names import write_station_names

            if manifest_path(args.fleet_dir).is_file():
                manifest = load_manifest(args.fleet_dir)
                hand_over_station_identities(args.fleet_dir, manifest, s.fleet_uid, s.fleet_gid)
                write_station_names(args.fleet_dir, manifest.things, args.data_dir)
        return code
    from provisioning.register_local import LocalFleetRequest, register_local

    if not 1 <= args.count <= MAX_FLEET_COUNT:
        raise ConfigError(f"--count (FLEET_COUNT) must be between 1 and {MAX_FLEET_COUNT}, not {args.count}")
    per = args.stations_per_container
    if per < 1:
        raise ConfigError(f"--stations-per-container (STATIONS_PER_CONTAINER) must be >= 1, not {per}")
    containers = -(-args.count // per)
    if containers > MAX_STATION_CONTAINERS:
        raise ConfigError(f"FLEET_COUNT={args.count} with STATIONS_PER_CONTAINER={per} needs {containers} containers; "
                         f"one Docker network holds about {MAX_STATION_CONTAINERS}: set STATIONS_PER_CONTAINER to "
                         f"{-(-args.count // MAX_STATION_CONTAINERS)} or more (e.g. `make up FLEET_COUNT={args.count} "
                         f"STATIONS_PER_CONTAINER=1000`)")
    outcome = register_local(LocalFleetRequest(
        fleet_dir=args.fleet_dir, data_dir=args.data_dir, prefix=args.prefix, count=args.count, topic=s.topic,
        hostnames=s.hostnames(), port=s.broker_port, force=args.force, dry_run=args.dry_run,
        owner=(s.fleet_uid, s.fleet_gid), stations_per_container=per))
    _print_paths("would write" if args.dry_run else "wrote", outcome.written)
    _print_paths("would remove" if args.dry_run else "removed", outcome.removed)
    if outcome.cycling:
        print(f"note: {outcome.cycling}")
    if outcome.groups:
        print(f"group mode: {outcome.groups} group containers of up to {per} stations "
              f"({args.fleet_dir}/shards/shard-1.json .. shard-{outcome.groups}.json)")
    stations = outcome.manifest.stations()
    _warn_unreadable_data(args.data_dir, stations, s, per)
    state = "unchanged" if not outcome.written and not outcome.removed else ("planned" if args.dry_run else "ready")
    print(f"local fleet {state}: {len(stations)} stations + monitor in {args.fleet_dir} "
          f"({stations[0].thing_name} .. {stations[-1].thing_name})")
    return 0


def _warn_unreadable_data(data_dir: Path, stations: Sequence[Thing], s: FleetSettings, per: int) -> None:
    """Warn (register only makes identities) when the containers `make up` starts could not read their data."""
    from provisioning import data_access

    problems = data_access.unreadable_for(data_dir, stations, s.fleet_uid, s.fleet_gid, whole_folder=per > 1)
    if problems:
        print(f"warning: {data_access.summary(problems)}\n(FLEET_UID={s.fleet_uid}, FLEET_GID={s.fleet_gid}; "
              f"the stations would fail with 'Permission denied')", file=sys.stderr)


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
    from provisioning.manifest import load_manifest

    m = load_manifest(args.fleet_dir)
    print(f"target={m.target} endpoint={m.endpoint}:{m.port} topic={m.topic} prefix={m.prefix}")
    for t in m.things:
        print(f"  {t.thing_name:<24} {t.role:<8} {t.station_id or '-':<13} {t.isd_file or '-':<24} "
              f"{t.certificate_sha256[:16]}  {t.station_name or ''}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from provisioning.watch import watch

    return watch(args.fleet_dir, args.host, args.port, topic_filter=args.topic, limit=args.limit,
                 timeout=args.timeout)


def cmd_data(args: argparse.Namespace) -> int:
    from provisioning import data

    return data.run(args)


def cmd_stations(args: argparse.Namespace) -> int:
    from provisioning import catalogue_cli

    return catalogue_cli.run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 done, 2 configuration error, 1 any other provisioning error (one line each on stderr)."""
    try:
        settings = load(FleetSettings)
        args = build_parser(settings).parse_args(argv)
        args._settings = settings
        return int(args._run(args) or 0)
    except ProvisioningError as exc:
        return report(exc, "provisioning")


if __name__ == "__main__":
    sys.exit(main())
