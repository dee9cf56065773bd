"""Entry points the `fleet` CLI calls for `--target aws` (and `python -m provisioning.aws`).

Shared arguments (set by the caller): count, prefix, force, fleet_dir, data_dir, dry_run.
Each function returns a process exit code: 0 done, 1 stopped part-way (state recorded), 2 configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from fleetcore.aws_errors import botocore_line, explain
from fleetcore.target import Target

from provisioning.aws.assign import PlannedThing, planned_things
from provisioning.aws.bulk import BULK_LINE_BYTES, register_bulk
from provisioning.aws.cost import estimate
from provisioning.aws.limits import RatePlan, rate_plan
from provisioning.aws.direct import is_complete, register_direct
from provisioning.aws.fleet import (
    FleetContext, RegistrationError, account_id, data_ats_endpoint, prepare_fleet,
)
from provisioning.aws.ledger import Ledger, journal_path, load_state
from provisioning.aws.policy import HELLO_TOPIC, policy_document, policy_json
from provisioning.aws.session import AwsClients, AwsSetupError, make_clients
from provisioning.aws.settings import AwsSettings, CertificateMode, RegistrationMode
from provisioning.aws.teardown import PolicyWait, plan_lines, unregister_fleet
from fleetcore.manifest import FleetManifest, Role, manifest_path
from provisioning.settings import FleetSettings, load

def _add(parser: argparse.ArgumentParser, *flags: str, **kwargs) -> None:
    """Add an option unless the caller's parser already has it (the fleet CLI defines the shared ones)."""
    if not any(f in parser._option_string_actions for f in flags):
        parser.add_argument(*flags, **kwargs)


def add_shared_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments the fleet CLI (`python -m provisioning`) passes for every target, with the same
    defaults (FleetSettings: FLEET_COUNT, FLEET_PREFIX, FLEET_DIR, DATA_DIR); for `python -m provisioning.aws`."""
    fs = _fleet_settings()
    _add(parser, "--count", "-n", type=int, default=fs.fleet_count,
         help="number of station things (env FLEET_COUNT, default %(default)s)")
    _add(parser, "--prefix", default=fs.fleet_prefix, help="thing-name prefix (env FLEET_PREFIX, default %(default)s)")
    _add(parser, "--fleet-dir", type=Path, default=fs.fleet_dir,
         help="fleet folder with manifest.json and identities (env FLEET_DIR, default %(default)s)")
    _add(parser, "--data-dir", type=Path, default=fs.data_dir,
         help="folder of ISD station-year files (env DATA_DIR, default %(default)s)")
    _add(parser, "--force", action="store_true", help="replace a local fleet in the fleet folder")
    _add(parser, "--dry-run", action="store_true", help="print the plan; change nothing")


def _fleet_settings() -> FleetSettings:
    """FleetSettings, or ConfigError naming each bad variable (never the defaults in place of a bad value)."""
    return load(FleetSettings)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """AWS-only options (on top of the shared ones)."""
    _add(parser, "--registration-mode", type=RegistrationMode, choices=list(RegistrationMode), default=None,
         help="direct API calls, or the lab's StartThingRegistrationTask (default IOT_REGISTRATION_MODE)")
    _add(parser, "--concurrency", type=int, default=None, help="parallel API workers (default IOT_CONCURRENCY)")
    _add(parser, "--with-hello", action="store_true",
         help="also register '<prefix>-hello', allowed to publish only to hello/world (the lab's first step)")
    _add(parser, "--speed", type=float, default=None, help="replay speed for the cost estimate (default SPEEDUP)")


def _settings(args: argparse.Namespace) -> AwsSettings:
    s = load(AwsSettings)
    updates = {}
    if getattr(args, "registration_mode", None):
        updates["registration_mode"] = args.registration_mode
    if getattr(args, "concurrency", None):
        updates["concurrency"] = args.concurrency
    if getattr(args, "speed", None):
        updates.update(speedup=args.speed, interval=None)  # --speed is SPEEDUP: the pacing is one setting
    return s.model_copy(update=updates) if updates else s


_S3_OPERATIONS = {"PutObject", "GetObject", "DeleteObject", "HeadObject", "ListObjectsV2"}


def refusal_line(exc: BaseException, region: str | None) -> str | None:
    """One line for a denied / unrecognised / expired-credentials ClientError (fleetcore.aws_errors), else None."""
    if not isinstance(exc, ClientError):
        return None
    op = exc.operation_name
    service = "s3" if op in _S3_OPERATIONS else "sts" if op == "GetCallerIdentity" else "iot"
    return explain(exc, service=service, region=region)


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _planned(args: argparse.Namespace) -> list[PlannedThing]:
    planned = planned_things(args.count, args.prefix, args.data_dir)
    if getattr(args, "with_hello", False):
        planned.append(PlannedThing(f"{args.prefix}-hello", None, None, role=Role.HELLO))
    return planned


def _existing(fleet_dir: Path) -> FleetManifest | None:
    if manifest_path(fleet_dir).is_file() or journal_path(fleet_dir).is_file():
        return load_state(fleet_dir)
    return None


def _check_existing(existing: FleetManifest | None, args: argparse.Namespace, region: str | None) -> str | None:
    """Why this fleet folder cannot take this registration, or None."""
    if existing is None:
        return None
    where = manifest_path(args.fleet_dir)
    if existing.target != Target.AWS:
        return None if args.force else (
            f"{where} describes a local fleet; run `make unregister` first, or pass --force to replace it")
    if existing.prefix != args.prefix:
        return (f"{where} holds the AWS fleet {existing.prefix!r}, not {args.prefix!r}; "
                f"run `make unregister TARGET=aws` first or use --prefix {existing.prefix}")
    if region and existing.region and existing.region != region:
        return (f"{where} was registered in {existing.region}; set AWS_REGION={existing.region} "
                f"(or run `make unregister TARGET=aws` first)")
    if len(existing.stations()) > args.count:
        return (f"{where} already has {len(existing.stations())} stations, more than --count {args.count}; "
                f"run `make unregister TARGET=aws` to shrink the fleet")
    return None


def plan(args: argparse.Namespace) -> int:
    """Print what `register` would create (no AWS call)."""
    s = _settings(args)
    planned = _planned(args)
    existing = _existing(args.fleet_dir)
    done = {t.thing_name for t in existing.things} if existing and existing.target == Target.AWS else set()
    todo = [p for p in planned if p.thing_name not in done]
    region = s.region or "(from the AWS config)"
    print(f"Plan: register {len(planned)} thing(s) in AWS IoT Core, region {region}, "
          f"{s.registration_mode} mode; {len(done & {p.thing_name for p in planned})} already registered")
    if problem := _check_existing(existing, args, s.region):
        print(f"  blocked: {problem}")
    recorded = {(r.kind, r.name) for r in existing.aws_resources} if existing else set()
    if ("policy", s.policy_name) not in recorded:
        print(f"  create policy {s.policy_name} (tagged managed-by=weather-fleet):")
        doc = policy_json(policy_document(s.region or "<region>", "<account>", [s.topic]))
        print("    " + doc.replace("\n", "\n    "))
    if any(p.role == Role.HELLO for p in todo):
        print(f"  create policy {s.policy_name}-hello: iot:Publish to {HELLO_TOPIC} only")
    if s.thing_type and ("thing_type", s.thing_type) not in recorded:
        print(f"  use thing type {s.thing_type} (created and tagged if it does not exist)")
    if s.thing_group and ("thing_group", s.thing_group) not in recorded:
        print(f"  use thing group {s.thing_group} (created and tagged if it does not exist)")
    if s.registration_mode == RegistrationMode.BULK:
        stations = sum(1 for p in todo if p.role == Role.STATION)
        tasks = max(1, -(-stations * BULK_LINE_BYTES // s.bulk_max_task_bytes))
        print(f"  upload parameters files to s3://{s.bulk_bucket or '<IOT_BULK_BUCKET>'}/weather-fleet/"
              f"{args.prefix}/ and run about {tasks} registration task(s) one after another (about "
              f"{BULK_LINE_BYTES} bytes a thing, IOT_BULK_MAX_TASK_BYTES={s.bulk_max_task_bytes:,}) with role "
              f"{s.bulk_role_arn or '<IOT_BULK_ROLE_ARN>'}")
    cert = "certificate from a local CSR" if s.certificate_mode == CertificateMode.CSR else "CreateKeysAndCertificate"
    print(f"  per thing: create thing, {cert}, attach policy, attach thing principal "
          f"-> {args.fleet_dir}/things/<thing>/{{certificate.pem,private.key,ca.pem}}")
    for p in todo[:3] + (["..."] if len(todo) > 4 else []) + todo[3:][-1:]:
        if p == "...":
            print("    ...")
        else:
            print(f"    {p.thing_name}  station {p.station_id or '-'}  file {p.isd_file or '-'}")
    print(f"  then write {manifest_path(args.fleet_dir)} (target aws, iot:Data-ATS endpoint, every resource)")
    print("When the stations run:")
    for line in _rate_plan(s, [p.isd_file for p in planned if p.role == Role.STATION], args.data_dir,
                           s.region).lines():
        print(f"  {line}")
    return 0


def _rate_plan(s: AwsSettings, files: list[str | None], data_dir: Path | None, region: str | None) -> RatePlan:
    return rate_plan(files, data_dir, speed=s.replay_speed, interval=s.interval, max_rate=s.max_rate,
                     region=region, price_per_million=s.price_per_million_messages,
                     price_per_million_minutes=s.price_per_million_connection_minutes)


def register(args: argparse.Namespace, clients: AwsClients | None = None) -> int:
    """Register the fleet (idempotent: what the manifest holds is not created again)."""
    if args.dry_run:
        return plan(args)
    s = _settings(args)
    planned = _planned(args)
    try:
        clients = clients or make_clients(s)
    except AwsSetupError as exc:
        _err(str(exc))
        return 2
    existing = _existing(args.fleet_dir)
    if problem := _check_existing(existing, args, clients.region):
        _err(problem)
        return 2
    try:
        account, endpoint = account_id(clients), data_ats_endpoint(clients)
    except ClientError as exc:
        _err(refusal_line(exc, clients.region) or f"cannot reach AWS IoT in {clients.region}: {exc}")
        return 2
    except BotoCoreError as exc:
        _err(botocore_line(exc, service="IoT", region=clients.region, profile=s.profile))
        return 2
    if existing is None or existing.target != Target.AWS:
        existing = FleetManifest(target="aws", endpoint=endpoint, prefix=args.prefix, things=[],
                                 region=clients.region, policy_name=s.policy_name, topic=s.topic)
    existing.endpoint, existing.region = endpoint, clients.region
    ledger = Ledger(args.fleet_dir, existing)
    ctx = FleetContext(settings=s, clients=clients, ledger=ledger, fleet_dir=Path(args.fleet_dir), prefix=args.prefix,
                       account=account, endpoint=endpoint, policy_name=s.policy_name,
                       hello_policy_name=f"{s.policy_name}-hello")
    failed: dict[str, str] = {}
    try:
        prepare_fleet(ctx, planned, hello=any(p.role == Role.HELLO for p in planned))
        if s.registration_mode == RegistrationMode.BULK:
            stations = [p for p in planned if p.role == Role.STATION]
            outcome = register_bulk(ctx, stations)
            if outcome:
                failed = dict(outcome.failed)
            # things recorded but incomplete (a failed line made the thing: adopted) are finished one by one
            unfinished = [p for p in stations if ledger.find("thing", p.thing_name) and not is_complete(ctx, p)]
            register_direct(ctx, unfinished)
            for p in unfinished:
                failed.pop(p.thing_name, None)
            if outcome and outcome.adopted:
                print(f"adopted {len(outcome.adopted)} thing(s) that failed bulk lines created, and finished them "
                      f"directly: {', '.join(outcome.adopted[:5])}{' ...' if len(outcome.adopted) > 5 else ''}",
                      file=sys.stderr)
            hello = [p for p in planned if p.role != Role.STATION]
            register_direct(ctx, hello)
        else:
            register_direct(ctx, planned)
    except (RegistrationError, ClientError, BotoCoreError, OSError, KeyboardInterrupt) as exc:
        ledger.sort_things([p.thing_name for p in planned])
        ledger.save()
        recorded = (f"{len(ledger.resources())} created resource(s) are recorded in {manifest_path(args.fleet_dir)}; "
                    f"`make register TARGET=aws` finishes the fleet, `make unregister TARGET=aws` removes it")
        if line := refusal_line(exc, clients.region):
            _err(f"{line} (stopped: {recorded})")
            return 1
        _err(str(exc) or type(exc).__name__)
        print(f"stopped: {recorded}", file=sys.stderr)
        return 1
    ledger.sort_things([p.thing_name for p in planned])
    ledger.save()
    made = ", ".join(f"{n} {k.replace('_', ' ')}(s)" for k, n in sorted(ctx.created.items())) or "nothing (up to date)"
    print(f"registered {len(ledger.things())} thing(s) in {clients.region}; created {made}")
    print(f"endpoint {endpoint}; identities in {Path(args.fleet_dir) / 'things'}")
    if failed:
        for name, why in sorted(failed.items()):
            print(f"  FAILED {name}: {why}", file=sys.stderr)
        print(f"{len(failed)} thing(s) failed in the bulk task; `make register TARGET=aws` retries them",
              file=sys.stderr)
        return 1
    return 0


def unregister(args: argparse.Namespace, clients: AwsClients | None = None,
               policy_wait: PolicyWait | None = None) -> int:
    """Delete exactly what the manifest lists, then the identity folders and the manifest."""
    existing = _existing(args.fleet_dir)
    if existing is None:
        print(f"nothing to unregister: no fleet manifest at {manifest_path(args.fleet_dir)}")
        return 0
    if existing.target != Target.AWS:
        _err(f"{manifest_path(args.fleet_dir)} describes a local fleet; use `make unregister` (TARGET=local)")
        return 2
    if args.dry_run:
        print(f"Plan: unregister fleet {existing.prefix!r} in {existing.region} "
              f"({len(existing.aws_resources)} recorded resources), in this order:")
        for line in plan_lines(existing):
            print(f"  {line}")
        print(f"  then remove {len(existing.things)} identity folder(s) and {manifest_path(args.fleet_dir)}")
        return 0
    s = _settings(args)
    if existing.region:
        s = s.model_copy(update={"region": existing.region})
    try:
        clients = clients or make_clients(s)
    except AwsSetupError as exc:
        _err(str(exc))
        return 2
    ledger = Ledger(args.fleet_dir, existing)
    try:
        result = unregister_fleet(clients, ledger, s.concurrency,
                                  policy_wait or PolicyWait(seconds=s.policy_delete_wait_seconds))
    except (ClientError, BotoCoreError, OSError) as exc:
        ledger.save()
        _err(f"{refusal_line(exc, clients.region) or exc}; what is left is recorded in "
             f"{manifest_path(args.fleet_dir)}: run `make unregister TARGET=aws` again")
        return 1
    gone = ", ".join(f"{n} {k.replace('_', ' ')}(s)" for k, n in result.deleted.items() if n) or "nothing"
    if result.complete:
        ledger.delete_files()
        print(f"unregistered fleet {existing.prefix!r}: deleted {gone}")
        return 0
    if result.only_waiting_thing_types:
        names = ", ".join(r.name for r, _ in result.kept)
        print(f"unregistered fleet {existing.prefix!r}: deleted {gone}; thing type {names} is deprecated and "
              f"AWS deletes it only 5 minutes after deprecation: run `make unregister TARGET=aws` again then "
              f"(it stays in {manifest_path(args.fleet_dir)} until deleted; `make register TARGET=aws` reuses it)")
        return 0
    print(f"deleted {gone}; {len(result.kept)} resource(s) remain recorded in {manifest_path(args.fleet_dir)}:",
          file=sys.stderr)
    for r, why in result.kept[:10]:
        print(f"  {r.kind} {r.name}: {why}", file=sys.stderr)
    print("run `make unregister TARGET=aws` again (a deprecated thing type can be deleted 5 minutes after "
          "deprecation)", file=sys.stderr)
    return 1


def cost(args: argparse.Namespace) -> int:
    """Print messages, duration and cost of replaying the fleet (the manifest's, or the planned one)."""
    s = _settings(args)
    existing = _existing(args.fleet_dir)
    if existing is not None and existing.stations():
        files = [t.isd_file for t in existing.stations()]
        source = f"the {existing.target} fleet in {manifest_path(args.fleet_dir)}"
    else:
        files = [p.isd_file for p in planned_things(args.count, args.prefix, args.data_dir)]
        source = f"{args.count} planned station(s)"
    est = estimate(files, args.data_dir, speed=s.replay_speed, interval=s.interval, max_rate=s.max_rate,
                   price_per_million=s.price_per_million_messages,
                   price_per_million_minutes=s.price_per_million_connection_minutes)
    print(f"This run will send ({source}, data from {args.data_dir or 'DATA_DIR (unset)'}):")
    for line in est.lines():
        print(f"  {line}")
    region = (existing.region if existing is not None and existing.target == Target.AWS else None) or s.region
    for line in _rate_plan(s, files, args.data_dir, region).lines():
        print(f"  {line}")
    return 0


def doctor(args: argparse.Namespace, session=None) -> int:
    """Read-only checks of credentials, region, endpoint, roles and quotas before anything is created."""
    from provisioning.aws.doctor import doctor as run_doctor

    return run_doctor(_settings(args), count=args.count, prefix=args.prefix, data_dir=args.data_dir, session=session)
