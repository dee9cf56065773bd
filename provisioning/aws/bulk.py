"""Bulk registration, the lab's way: StartThingRegistrationTask with a provisioning template and a
parameters file in S3, DescribeThingRegistrationTask polled with a timeout, and the task's RESULTS and
ERRORS reports parsed per thing.

Differences from the lab's script: the CSR is made locally (the key never leaves the machine), the policy is
the least-privilege one created beforehand (the template only attaches it by name), nothing in the account
is deleted first, and the parameters file and every created thing/certificate are recorded in the manifest.

Report lines are JSON objects with `offset` (byte offset of the input line) and/or `lineNumber`, and either
`response` (RESULTS: `ResourceArns` and `CertificatePem`) or `errorMessage` (ERRORS). We match a line to its
thing by `offset`, else by the thing ARN in the response, else by `lineNumber` (0-based).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone

from provisioning.aws.assign import PlannedThing
from provisioning.aws.direct import is_complete, policy_for
from provisioning.aws.fleet import MANAGED_BY, FleetContext, RegistrationError, attribute_names, reconcile
from provisioning.aws.identity import (
    certificate_matches_key, certificate_sha256, csr_pem, identity_files, key_pem, load_private_key,
    new_private_key, write_private, write_public,
)
from provisioning.aws.rootca import amazon_root_ca_pem
from fleetcore.manifest import THINGS_DIR, AwsResource, Role, Thing

DONE_STATES = {"Completed", "Failed", "Cancelled"}
# One parameters line (thing name, station id, ISD file name and a P-256 CSR in PEM): about 450-500 bytes.
BULK_LINE_BYTES = 500


def provisioning_template(*, policy_name: str, thing_type: str | None, thing_group: str | None,
                          prefix: str) -> dict:
    """The template applied to every line of the parameters file (thing, CSR certificate, policy by name)."""
    values = {"managed_by": MANAGED_BY, "fleet": prefix, "station_id": {"Ref": "StationId"},
              "isd_file": {"Ref": "IsdFile"}}
    thing_props: dict = {
        "ThingName": {"Ref": "ThingName"},
        # at most 3 attributes without a thing type (see provisioning.aws.fleet.attribute_names)
        "AttributePayload": {k: values[k] for k in attribute_names(typed=bool(thing_type))},
    }
    if thing_type:
        thing_props["ThingTypeName"] = thing_type
    if thing_group:
        thing_props["ThingGroups"] = [thing_group]
    parameters = {"ThingName": {"Type": "String"}, "CSR": {"Type": "String"},
                  "StationId": {"Type": "String", "Default": ""}}
    if thing_type:
        parameters["IsdFile"] = {"Type": "String", "Default": ""}
    return {
        "Parameters": parameters,
        "Resources": {
            "thing": {"Type": "AWS::IoT::Thing", "Properties": thing_props},
            "certificate": {"Type": "AWS::IoT::Certificate",
                            "Properties": {"CertificateSigningRequest": {"Ref": "CSR"}, "Status": "ACTIVE"}},
            "policy": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": policy_name}},
        },
    }


def template_refs(node) -> set[str]:
    """Every parameter name the template refers to (`Ref`, and `Fn::Join`/`Fn::Sub` operands recursively)."""
    refs: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                refs.add(v)
            else:
                refs |= template_refs(v)
    elif isinstance(node, list):
        for v in node:
            refs |= template_refs(v)
    return refs


def parameters_lines(planned: list[PlannedThing], csrs: dict[str, str], *,
                     typed: bool = True) -> tuple[bytes, dict[int, str]]:
    """Newline-delimited JSON, one line per thing (the template's parameters exactly); also
    {byte offset of the line: thing name}."""
    out = bytearray()
    offsets: dict[int, str] = {}
    for p in planned:
        offsets[len(out)] = p.thing_name
        line = {"ThingName": p.thing_name, "CSR": csrs[p.thing_name], "StationId": p.station_id or ""}
        if typed:
            line["IsdFile"] = p.isd_file or ""
        out += json.dumps(line, separators=(",", ":")).encode() + b"\n"
    return bytes(out), offsets


@dataclass
class ReportEntry:
    thing_name: str | None
    ok: bool
    certificate_arn: str | None = None
    thing_arn: str | None = None
    certificate_pem: str | None = None
    error: str | None = None


@dataclass
class BulkOutcome:
    """What the run's tasks did: `status` is "Completed" unless a task ended otherwise; `adopted` are things a
    failed line created anyway (recorded, finished by the direct path)."""

    task_ids: list[str] = field(default_factory=list)
    status: str = "Completed"
    succeeded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    adopted: list[str] = field(default_factory=list)

    @property
    def task_id(self) -> str | None:
        return self.task_ids[-1] if self.task_ids else None


def _get(d: dict, *names: str):
    lower = {k.lower(): v for k, v in d.items()}
    for n in names:
        if n.lower() in lower:
            return lower[n.lower()]
    return None


def parse_report_line(line: str, offsets: dict[int, str], order: list[str]) -> ReportEntry:
    """One RESULTS or ERRORS line -> which thing, and what happened to it."""
    obj = json.loads(line)
    response = _get(obj, "response")
    if isinstance(response, str):
        response = json.loads(response)
    name = None
    off = _get(obj, "offset")
    if off is not None and int(off) in offsets:
        name = offsets[int(off)]
    arns = (_get(response, "ResourceArns") or {}) if isinstance(response, dict) else {}
    thing_arn = _get(arns, "thing")
    if name is None and thing_arn:
        name = thing_arn.rsplit("/", 1)[-1]
    ln = _get(obj, "lineNumber")
    if name is None and ln is not None and 0 <= int(ln) < len(order):
        name = order[int(ln)]
    error = _get(obj, "errorMessage", "error", "message")
    if error or not isinstance(response, dict):
        return ReportEntry(name, False, error=str(error or "no response in report line"))
    return ReportEntry(name, True, certificate_arn=_get(arns, "certificate"), thing_arn=thing_arn,
                       certificate_pem=_get(response, "CertificatePem"))


def fetch_report_lines(url: str, timeout: float = 60.0) -> list[str]:
    """Download one report file (an S3 pre-signed URL from ListThingRegistrationTaskReports)."""
    if not url.startswith(("https://", "http://")):
        raise RegistrationError(f"unexpected report link {url[:60]!r}")
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
        return [ln for ln in resp.read().decode().splitlines() if ln.strip()]


def report_entries(ctx: FleetContext, task_id: str, offsets: dict[int, str], order: list[str]) -> list[ReportEntry]:
    entries: list[ReportEntry] = []
    for report_type in ("RESULTS", "ERRORS"):
        kwargs = {"taskId": task_id, "reportType": report_type}
        while True:
            page = ctx.clients.iot.list_thing_registration_task_reports(**kwargs)
            for url in page.get("resourceLinks", []):
                entries.extend(parse_report_line(ln, offsets, order) for ln in fetch_report_lines(url))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return entries


def wait_for_task(ctx: FleetContext, task_id: str) -> dict:
    """Poll DescribeThingRegistrationTask until it ends; RegistrationError after IOT_BULK_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + ctx.settings.bulk_timeout_seconds
    while True:
        desc = ctx.clients.iot.describe_thing_registration_task(taskId=task_id)
        if desc["status"] in DONE_STATES:
            return desc
        if time.monotonic() >= deadline:
            raise RegistrationError(
                f"bulk task {task_id} still {desc['status']} ({desc.get('percentageProgress', 0)}%) after "
                f"IOT_BULK_TIMEOUT_SECONDS={ctx.settings.bulk_timeout_seconds:g}; run `make register TARGET=aws` "
                f"again to collect its results")
        time.sleep(ctx.settings.bulk_poll_seconds)


def _keys_and_csrs(ctx: FleetContext, todo: list[PlannedThing]) -> dict[str, str]:
    csrs = {}
    for p in todo:
        key_path = identity_files(ctx.fleet_dir / THINGS_DIR / p.thing_name)[1]
        if key_path.is_file():
            key = load_private_key(key_path)
        else:
            key = new_private_key()
            write_private(key_path, key_pem(key))
        csrs[p.thing_name] = csr_pem(key, p.thing_name)
    return csrs


def record_success(ctx: FleetContext, planned: PlannedThing, entry: ReportEntry) -> None:
    """Record what the template created for one thing and complete its identity folder."""
    ledger, name = ctx.ledger, planned.thing_name
    cert_path, key_path, ca_path = identity_files(ctx.fleet_dir / THINGS_DIR / name)
    cert_id = entry.certificate_arn.rsplit("/", 1)[-1]
    if not ledger.find("thing", name):
        ledger.add(AwsResource(kind="thing", name=name, arn=entry.thing_arn, extra={"thing": name}))
        ctx.count("thing")
    ledger.add(AwsResource(kind="certificate", name=cert_id, arn=entry.certificate_arn, extra={"thing": name}))
    ctx.count("certificate")
    policy = policy_for(ctx, planned)
    ledger.add(AwsResource(kind="policy_attachment", name=policy,
                           extra={"thing": name, "target": entry.certificate_arn}))
    ledger.add(AwsResource(kind="principal_attachment", name=name,
                           extra={"thing": name, "principal": entry.certificate_arn}))
    pem = entry.certificate_pem or ctx.clients.iot.describe_certificate(
        certificateId=cert_id)["certificateDescription"]["certificatePem"]
    if not certificate_matches_key(pem, load_private_key(key_path)):
        raise RegistrationError(f"{name}: certificate {cert_id} does not certify the key in {key_path}; "
                                f"run `make unregister TARGET=aws`")
    write_public(cert_path, pem)
    write_public(ca_path, amazon_root_ca_pem())
    ledger.put_thing(Thing(thing_name=name, role=planned.role, station_id=planned.station_id,
                           isd_file=planned.isd_file, identity_dir=f"{THINGS_DIR}/{name}",
                           certificate_sha256=certificate_sha256(pem), certificate_id=cert_id,
                           certificate_arn=entry.certificate_arn, thing_arn=entry.thing_arn,
                           **planned.metadata()))


def task_chunks(todo: list[PlannedThing], csrs: dict[str, str], *, typed: bool,
                max_bytes: int) -> list[list[PlannedThing]]:
    """`todo` in consecutive parts whose parameters file is at most `max_bytes` each (IOT_BULK_MAX_TASK_BYTES);
    a single line larger than that is a part of its own."""
    chunks: list[list[PlannedThing]] = []
    current: list[PlannedThing] = []
    size = 0
    for p in todo:
        line = len(parameters_lines([p], csrs, typed=typed)[0])
        if current and size + line > max_bytes:
            chunks.append(current)
            current, size = [], 0
        current.append(p)
        size += line
    if current:
        chunks.append(current)
    return chunks


def _pending_tasks(ctx: FleetContext) -> list[AwsResource]:
    """Parameters files whose task was started but not yet collected (a run stopped while waiting)."""
    return [r for r in ctx.ledger.resources("bucket_object") if r.extra.get("task_id")]


def _collect(ctx: FleetContext, obj: AwsResource, by_name: dict[str, PlannedThing], outcome: BulkOutcome) -> None:
    """Wait for one recorded task, record what its lines made, adopt what its failed lines made anyway."""
    task_id = obj.extra["task_id"]
    offsets = {int(k): v for k, v in json.loads(obj.extra.get("offsets", "{}")).items()}
    order = json.loads(obj.extra.get("order", "[]"))
    desc = wait_for_task(ctx, task_id)
    outcome.task_ids.append(task_id)
    if desc["status"] != "Completed":
        outcome.status = desc["status"]
    done: set[str] = set()
    for entry in report_entries(ctx, task_id, offsets, order):
        if entry.thing_name is None or entry.thing_name not in by_name:
            outcome.failed[entry.thing_name or "?"] = entry.error or "report line names no planned thing"
            continue
        if entry.ok:
            record_success(ctx, by_name[entry.thing_name], entry)
            outcome.succeeded.append(entry.thing_name)
            done.add(entry.thing_name)
        else:
            outcome.failed[entry.thing_name] = entry.error or "failed"
    for name in order:  # a line with no report line at all (a task that failed or was cancelled)
        if name not in done and name not in outcome.failed:
            outcome.failed[name] = f"no report line (task {task_id} ended {desc['status']})"
    outcome.adopted.extend(reconcile(ctx, [n for n in order if n not in done]))
    # the task is collected: keep the object recorded (for deletion) but forget the task
    ctx.ledger.remove(obj)
    ctx.ledger.add(AwsResource(kind="bucket_object", name=obj.name, extra={"bucket": obj.extra["bucket"]}))
    ctx.ledger.save()
    if desc["status"] != "Completed" and not done:
        raise RegistrationError(f"bulk task {task_id} ended {desc['status']}: {desc.get('message', '')}")


def register_bulk(ctx: FleetContext, planned: list[PlannedThing]) -> BulkOutcome | None:
    """Register every planned thing not yet recorded through registration tasks, one after another (AWS runs
    one bulk task per account at a time), each with a parameters file of at most IOT_BULK_MAX_TASK_BYTES.

    Tasks an interrupted run left behind are collected first. Things recorded but incomplete (adopted after a
    failed line, or a run stopped part-way) are not sent again: the direct path finishes them.
    """
    s = ctx.settings
    if not s.bulk_bucket or not s.bulk_role_arn:
        raise RegistrationError("IOT_REGISTRATION_MODE=bulk needs IOT_BULK_BUCKET and IOT_BULK_ROLE_ARN "
                                "(the lab's `iot-tutorial-things-template` bucket and LabRole ARN) in .env")
    if any(p.role != Role.STATION for p in planned):
        raise RegistrationError("the bulk template provisions stations only; register the hello identity "
                                "with IOT_REGISTRATION_MODE=direct")
    by_name = {p.thing_name: p for p in planned}
    outcome = BulkOutcome()
    for obj in _pending_tasks(ctx):
        _collect(ctx, obj, by_name, outcome)
    todo = [p for p in planned if not is_complete(ctx, p) and not ctx.ledger.find("thing", p.thing_name)
            and p.thing_name not in outcome.failed]
    if not todo:
        return outcome if outcome.task_ids else None
    typed = bool(s.thing_type)
    csrs = _keys_and_csrs(ctx, todo)
    template = json.dumps(provisioning_template(policy_name=ctx.policy_name, thing_type=s.thing_type or None,
                                                thing_group=s.thing_group or None, prefix=ctx.prefix))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    chunks = task_chunks(todo, csrs, typed=typed, max_bytes=s.bulk_max_task_bytes)
    for i, chunk in enumerate(chunks, 1):
        body, offsets = parameters_lines(chunk, csrs, typed=typed)
        key = f"weather-fleet/{ctx.prefix}/registration-{stamp}-{i:03d}.jsonl"
        ctx.clients.s3.put_object(Bucket=s.bulk_bucket, Key=key, Body=body, ContentType="application/x-ndjson",
                                  Tagging=f"managed-by={MANAGED_BY}&weather-fleet%3Aprefix={ctx.prefix}")
        obj = ctx.ledger.add(AwsResource(kind="bucket_object", name=key, extra={"bucket": s.bulk_bucket}))
        if len(chunks) > 1:
            print(f"bulk task {i}/{len(chunks)}: {len(chunk)} thing(s), {len(body):,} bytes", file=sys.stderr)
        task_id = ctx.clients.iot.start_thing_registration_task(
            templateBody=template, inputFileBucket=s.bulk_bucket, inputFileKey=key,
            roleArn=s.bulk_role_arn)["taskId"]
        # remember the task (and how to read its report) before waiting on it
        ctx.ledger.remove(obj)
        obj = ctx.ledger.add(AwsResource(kind="bucket_object", name=key, extra={
            "bucket": s.bulk_bucket, "task_id": task_id, "offsets": json.dumps(offsets),
            "order": json.dumps([p.thing_name for p in chunk])}))
        ctx.ledger.save()
        _collect(ctx, obj, by_name, outcome)
    return outcome
