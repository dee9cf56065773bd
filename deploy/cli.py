"""`python -m deploy`: turn the registered fleet (its manifest) into running containers. Each `make` target of
the fleet calls one command here:

    write        compose.env, shards, generated services from the manifest (make register, after provisioning)
    remove       delete them (make unregister)
    images       build the station and broker images (make images)
    up           start the broker and the registered stations; returns once the broker answers (make up)
    down|logs|ps the compose project (make down / logs / ps)
    acl-reload   make a running broker re-read the ACL (make broker-reload)
    clean        containers, volumes and the fleet folder (make clean)
    lake-up      the lake writer as a compose service, as the monitor key's owner (make lake-up / lake-down)
    host CMD     run `python -m CMD` on this host against the fleet (make lake, make dashboard)
    on-aws CMD   run `python -m CMD` when TARGET is aws, else print --otherwise (make pipeline*, aws-preflight)
    chaos, collect-state, audit   issue 20's fleet faults and audit on this fleet's compose project (make chaos ...)
    stack        the fleet as a Docker Swarm stack (make swarm-up / swarm-down / swarm-ps)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from deploy import data_access
from deploy.broker import reload_acl, running_config_differs, wait_for_broker
from deploy.broker_config import broker_config_text, write_broker_config
from deploy.compose import ComposeProject, fleet_services, project_name, station_volumes, unused_stations
from deploy.deployment import remove_deployment, write_deployment
from deploy.errors import DeployError
from deploy.faults import check_deployed
from deploy.lake import lake_owner, last_run
from deploy.settings import DeploySettings, load
from deploy.swarm.commands import add_parser as add_stack_parser
from deploy.swarm.images import build_commands
from deploy.swarm.stack import Images
from fleetcore.cli import run_command
from fleetcore.errors import ManifestError
from fleetcore.manifest import load_manifest, manifest_path
from fleetcore.target import Target

PIPELINE = ("--profile", "pipeline")
# Every opt-in profile: `down` and `clean` take their services too.
ALL_PROFILES = (*PIPELINE, "--profile", "metrics")


def cmd_write(args: argparse.Namespace, s: DeploySettings) -> int:
    manifest = load_manifest(args.fleet_dir)
    per = args.stations_per_container
    broker = s if manifest.target == Target.LOCAL else None
    done = write_deployment(args.fleet_dir, args.data_dir, manifest, per, broker=broker, faults=s.faults,
                            metrics=s.fleet_metrics, dry_run=args.dry_run)
    verb = "would write" if args.dry_run else "wrote"
    for p in done.written[:20]:
        print(f"{verb} {p}")
    if len(done.written) > 20:
        print(f"{verb} {len(done.written) - 20} more files")
    for p in done.removed:
        print(f"{'would remove' if args.dry_run else 'removed'} {p}")
    if done.groups:
        print(f"group mode: {done.groups} group containers of up to {per} stations "
              f"({args.fleet_dir}/shards/shard-1.json .. shard-{done.groups}.json)")
    problems = data_access.unreadable_for(args.data_dir, manifest.stations(), s.fleet_uid, s.fleet_gid,
                                          whole_folder=per > 1)
    if problems and all(t.isd_file for t in manifest.stations()):
        print(f"warning: {data_access.summary(problems)}\n(FLEET_UID={s.fleet_uid}, FLEET_GID={s.fleet_gid}; "
              f"the stations would fail with 'Permission denied')", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace, s: DeploySettings) -> int:
    for p in remove_deployment(args.fleet_dir, dry_run=args.dry_run):
        print(f"{'would remove' if args.dry_run else 'removed'} {p}")
    return 0


def cmd_images(args: argparse.Namespace, s: DeploySettings) -> int:
    """`docker build` of the station and broker images, as compose.yaml's `build:` sections describe them. Not
    `compose build`: Compose v2 stamps the project's labels on the images it builds, and every container later
    started from such an image (a test's broker, another project's) then counts as one of that project's
    containers, which its `down --remove-orphans` removes."""
    images = Images(station=s.station_image, broker=s.mosquitto_image, pipeline=s.pipeline_image)
    for cmd in build_commands(images, s.base_image, broker=True, pipeline=False):
        print("+ " + " ".join(cmd))
        if subprocess.run(cmd, cwd=ComposeProject(s).cwd).returncode != 0:
            raise DeployError(f"`docker build ... -t {cmd[cmd.index('-t') + 1]}` failed (its output is above): "
                              f"BASE_IMAGE={s.base_image or '(default)'}")
    return 0


def cmd_up(args: argparse.Namespace, s: DeploySettings) -> int:
    """Stop compose.yaml's stations the fleet does not use, write the broker's mosquitto.conf (its limits), reload
    a running broker's ACL, start the broker and the fleet's services (TARGET=aws: the stations only), and return
    once the broker answers. A running broker whose mosquitto.conf differs (its limits changed) is recreated:
    compose's bind mount keeps the old file."""
    project = ComposeProject(s)
    fleet = project.fleet_env
    check_deployed(s.fleet_dir, s.faults, _station_names(s), fleet)  # before anything starts
    if unused := unused_stations(fleet):
        project.run("rm", "--stop", "--force", *unused)
    local = s.target != Target.AWS
    if local:
        write_broker_config(s.fleet_dir, s)
        if running_config_differs(project.container("broker"), broker_config_text(s)):
            project.run("up", "-d", "--force-recreate", "--no-deps", "broker")
        reload_acl(project.container("broker"))
    project.run("up", "-d", "--remove-orphans", *(["broker"] if local else ["--no-deps"]), *fleet_services(fleet))
    if local and s.broker_wait_seconds > 0:
        wait_for_broker(s.fleet_dir, s.broker_port, s.broker_wait_seconds)
    print("Fleet started. `make ps` shows it, `make logs` follows the stations, `make watch` prints messages.")
    return 0


def _station_names(s: DeploySettings) -> list[str]:
    """The registered stations' names ([] before `make register`)."""
    if not manifest_path(s.fleet_dir).is_file():
        return []
    return [t.thing_name for t in load_manifest(s.fleet_dir).stations()]


def cmd_down(args: argparse.Namespace, s: DeploySettings) -> int:
    ComposeProject(s).run(*ALL_PROFILES, "down", "--remove-orphans")
    return 0


def cmd_logs(args: argparse.Namespace, s: DeploySettings) -> int:
    ComposeProject(s).run("logs", "-f", "--tail=20", check=False)
    return 0


def cmd_ps(args: argparse.Namespace, s: DeploySettings) -> int:
    # `--all`: Compose v2 lists running containers only, 1.29 all of them; a finished station has exited.
    ComposeProject(s).run("ps", "--all")
    return 0


def cmd_acl_reload(args: argparse.Namespace, s: DeploySettings) -> int:
    project = ComposeProject(s)
    if not reload_acl(project.container("broker")):
        print("broker: nothing to reload (not running, or its ACL is the fleet's)")
    return 0


def cmd_clean(args: argparse.Namespace, s: DeploySettings) -> int:
    if not args.yes:
        try:
            answer = input(f"Delete the fleet's containers, volumes and every identity in {s.fleet_dir} (the local "
                           f"CA too)? [y/N] ")
        except EOFError:
            answer = "n"
        if not answer.lower().startswith("y"):
            print("nothing deleted")
            return 0
    project = ComposeProject(s)
    project.run(*ALL_PROFILES, "down", "--volumes", "--remove-orphans")
    # `down --volumes` removes the volumes the compose files declare; those of stations a shrunken fleet no longer
    # has are found by the compose project's label.
    name = _project_name(s)
    listed = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}"],
                            capture_output=True, text=True, timeout=60).stdout.split()
    if volumes := station_volumes(listed):
        subprocess.run(["docker", "volume", "rm", *volumes], check=False, timeout=300)
    shutil.rmtree(s.fleet_dir, ignore_errors=True)
    print(f"removed the fleet's containers, {len(volumes)} station volume(s) and {s.fleet_dir}")
    return 0


def _lake_env(s: DeploySettings) -> dict[str, str]:
    return {"LAKE_DIR": str(s.lake_dir.resolve())}


def cmd_lake_up(args: argparse.Namespace, s: DeploySettings) -> int:
    uid, gid = lake_owner(s.lake_dir, s.monitor_dir)
    env = {**_lake_env(s), "LAKE_UID": str(uid), "LAKE_GID": str(gid)}
    project = ComposeProject(s)
    # Build the lake image alone, then start it: Compose v2's `up --build lake` also rebuilds the services it
    # depends on (the broker), with its own labels, and so recreates a running broker.
    project.run(*PIPELINE, "build", "lake", extra_env=env)
    project.run(*PIPELINE, "up", "-d", "lake", extra_env=env)
    return 0


def cmd_lake_down(args: argparse.Namespace, s: DeploySettings) -> int:
    """Stop the lake writer (it flushes first) and show its final counts, kept in LAKE_DIR/_runs/."""
    project = ComposeProject(s)
    project.run(*PIPELINE, "stop", "lake", extra_env=_lake_env(s))
    project.run(*PIPELINE, "rm", "-f", "lake", extra_env=_lake_env(s))
    if (last := last_run(s.lake_dir)) is not None:
        print(f"lake writer's last run ({last}):\n{last.read_text()}")
    return 0


def host_environment(s: DeploySettings, environ: dict[str, str]) -> dict[str, str]:
    """`environ` with what a tool on this host needs to reach the fleet, unless already set: the broker published
    on localhost:BROKER_PORT, the monitor identity and the station names of FLEET_DIR."""
    defaults = {"MQTT_HOST": "localhost", "MQTT_PORT": str(s.broker_port),
                "MONITOR_IDENTITY_DIR": str(s.monitor_dir), "STATION_NAMES_FILE": str(s.fleet_dir / "stations.json")}
    return {**defaults, **{k: v for k, v in environ.items() if v != "" or k not in defaults}}


def cmd_host(args: argparse.Namespace, s: DeploySettings) -> int:
    sys.stdout.flush()
    os.execvpe(sys.executable, [sys.executable, "-m", *args.module], host_environment(s, dict(os.environ)))
    return 1  # not reached


def cmd_on_aws(args: argparse.Namespace, s: DeploySettings) -> int:
    if s.target != Target.AWS:
        if args.otherwise:
            print(args.otherwise.replace("{target}", str(s.target)))
        return 0
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", *args.module])
    return 1  # not reached


def _project_name(s: DeploySettings) -> str:
    project = ComposeProject(s)
    return project_name(project.environment().get("COMPOSE_PROJECT_NAME") or s.compose_project_name, project.cwd)


def _state_dir(s: DeploySettings) -> Path:
    return s.fleet_dir / "state"


def cmd_chaos(args: argparse.Namespace, s: DeploySettings) -> int:
    from deploy.chaos.cli import main as chaos

    return chaos(["run", *(["--faults", str(args.faults)] if args.faults else []), "--project", _project_name(s),
                  "--state", str(_state_dir(s) / "chaos")])


def cmd_collect_state(args: argparse.Namespace, s: DeploySettings) -> int:
    from deploy.chaos.cli import main as chaos

    return chaos(["collect-state", "--project", _project_name(s), "--into", str(_state_dir(s)),
                  "--image", s.station_image])


def cmd_audit(args: argparse.Namespace, s: DeploySettings) -> int:
    """`pipeline audit` over --state folders, or over the state first collected from this fleet's volumes."""
    states = args.state or [_state_dir(s)]
    if not args.state and (code := cmd_collect_state(args, s)):
        return code
    command = ["pipeline", "audit", *(a for d in states for a in ("--state", str(d))), *(["--json"] if args.json else []),
               *(["--aws"] if s.target == Target.AWS else [])]
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", *command])
    return 1  # not reached


COMMANDS = {
    "write": (cmd_write, "write compose.env, shards and generated services from the manifest"),
    "remove": (cmd_remove, "delete what `write` wrote"),
    "images": (cmd_images, "build the station and broker images"),
    "up": (cmd_up, "start the broker and the fleet; returns once the broker answers"),
    "down": (cmd_down, "stop and remove the fleet's containers"),
    "logs": (cmd_logs, "follow the stations' and broker's logs"),
    "ps": (cmd_ps, "show the fleet's containers"),
    "acl-reload": (cmd_acl_reload, "make a running broker re-read the ACL"),
    "clean": (cmd_clean, "remove containers, volumes and (after asking) the fleet folder"),
    "lake-up": (cmd_lake_up, "run the lake writer as a compose service"),
    "lake-down": (cmd_lake_down, "stop the compose lake writer and show its final counts"),
    "on-aws": (cmd_on_aws, "run `python -m MODULE ARGS` when TARGET is aws (else print --otherwise)"),
    "chaos": (cmd_chaos, "run the `fleet:` faults of FAULTS on this fleet (deploy.chaos run)"),
    "collect-state": (cmd_collect_state, "copy the stations' state files out of the fleet into FLEET_DIR/state"),
    "audit": (cmd_audit, "`pipeline audit` over the collected (or --state) stations' state"),
    "host": (cmd_host, "run `python -m MODULE ARGS` here with the fleet's broker port and monitor identity"),
}


def build_parser(s: DeploySettings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (run, text) in COMMANDS.items():
        p = sub.add_parser(name, help=text)
        p.set_defaults(_run=run)
        p.add_argument("--fleet-dir", type=Path, default=s.fleet_dir, help="env FLEET_DIR (default %(default)s)")
        if name in ("write", "remove"):
            p.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
        if name == "write":
            p.add_argument("--data-dir", type=Path, default=s.data_dir, help="env DATA_DIR (default %(default)s)")
            p.add_argument("--stations-per-container", type=int, default=s.stations_per_container,
                           help="stations one container runs: > 1 writes shards and group services (env "
                           "STATIONS_PER_CONTAINER, default %(default)s)")
        if name in ("host", "on-aws"):
            if name == "on-aws":
                p.add_argument("--otherwise", default="", help="printed when TARGET is not aws ({target}: its value)")
            p.add_argument("module", nargs=argparse.REMAINDER, help="e.g. pipeline lake")
        if name == "chaos":
            p.add_argument("--faults", type=Path, default=s.faults, help="the scenario file (env FAULTS)")
        if name == "audit":
            p.add_argument("--state", type=Path, action="append", default=[], help="state folder (repeat; make "
                           "AUDIT_STATE=); default: collected from the fleet into FLEET_DIR/state")
            p.add_argument("--json", action="store_true", help="the report as JSON")
        if name == "clean":
            p.add_argument("--yes", action="store_true", help="do not ask (make clean YES=1)")
    add_stack_parser(sub, s.fleet_dir, s.data_dir)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 done, 2 configuration error, 1 any other deployment error (one line each on stderr)."""
    def run() -> int | None:
        settings = load()
        args = build_parser(settings).parse_args(argv)
        if getattr(args, "fleet_dir", None) is not None and args.fleet_dir != settings.fleet_dir:
            settings = settings.model_copy(update={"fleet_dir": args.fleet_dir})
        if getattr(args, "verb", None) is not None:  # `stack`: its own settings and dispatch
            return args._run(args)
        return args._run(args, settings)

    return run_command(run, (DeployError, ManifestError), "deploy")


if __name__ == "__main__":
    sys.exit(main())
