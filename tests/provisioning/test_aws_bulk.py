"""Bulk registration (StartThingRegistrationTask): moto lacks these calls, so the IoT client is a botocore
Stubber checked against the real API model, while the parameters file and the task reports go through
moto's S3 for real (uploaded, read back, served by pre-signed URL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.aws.assign import planned_things
from provisioning.aws.bulk import parameters_lines, parse_report_line, provisioning_template, register_bulk, template_refs
from provisioning.aws.fleet import FleetContext, RegistrationError
from provisioning.aws.identity import certificate_matches_key, load_private_key
from provisioning.aws.ledger import Ledger, load_state
from provisioning.aws.session import AwsClients
from provisioning.aws.settings import AwsSettings
from fleetcore.manifest import FleetManifest
from tests.provisioning.aws_fixtures import aws_env, moto_endpoint  # noqa: F401

BUCKET = "iot-tutorial-things-template"
ROLE = "arn:aws:iam::123456789012:role/LabRole"
ACCOUNT, REGION = "123456789012", "us-east-1"
TEMPLATE_KEYS = {"ThingName", "CSR", "StationId", "IsdFile"}


def test_template_references_only_declared_parameters() -> None:
    t = provisioning_template(policy_name="p", thing_type="weather-station", thing_group="weather-fleet",
                              prefix="weather-station")
    declared = set(t["Parameters"])
    assert template_refs(t) <= declared
    assert template_refs(t) == declared  # and every declared parameter is used
    assert {r["Type"] for r in t["Resources"].values()} == {"AWS::IoT::Thing", "AWS::IoT::Certificate",
                                                           "AWS::IoT::Policy"}
    assert t["Resources"]["policy"]["Properties"] == {"PolicyName": "p"}  # by name: no inline '*' document
    # a stray reference is caught
    t["Resources"]["thing"]["Properties"]["AttributePayload"]["serial"] = {"Ref": "SerialNumber"}
    assert "SerialNumber" in template_refs(t) - declared


def test_parameters_file_lines_carry_exactly_the_declared_parameters(tmp_path: Path) -> None:
    planned = planned_things(3, "ws", None)
    body, offsets = parameters_lines(planned, {p.thing_name: f"csr-{p.thing_name}" for p in planned})
    lines = body.decode().splitlines()
    assert len(lines) == 3
    for (off, name), line in zip(sorted(offsets.items()), lines):
        assert body[off:].decode().startswith(line)
        obj = json.loads(line)
        assert set(obj) == TEMPLATE_KEYS and obj["ThingName"] == name and obj["CSR"] == f"csr-{name}"


def test_report_lines_are_matched_to_things() -> None:
    order = ["a", "b", "c"]
    offsets = {0: "a", 100: "b", 250: "c"}
    ok = parse_report_line(json.dumps({"offset": 100, "lineNumber": 7, "response": json.dumps(
        {"ResourceArns": {"certificate": "arn:aws:iot:r:1:cert/abc", "thing": "arn:aws:iot:r:1:thing/b"},
         "CertificatePem": "PEM"})}), offsets, order)
    assert (ok.thing_name, ok.ok, ok.certificate_arn, ok.certificate_pem) == ("b", True, "arn:aws:iot:r:1:cert/abc", "PEM")
    by_arn = parse_report_line(json.dumps({"response": {"ResourceArns": {"thing": "arn:aws:iot:r:1:thing/c",
                                                                         "certificate": "x/y"}}}), offsets, order)
    assert by_arn.thing_name == "c" and by_arn.ok
    err = parse_report_line(json.dumps({"lineNumber": 0, "errorMessage": "Throttled"}), offsets, order)
    assert (err.thing_name, err.ok, err.error) == ("a", False, "Throttled")


class FakeTaskRunner:
    """Plays the AWS side of registration tasks on moto's S3: reads each uploaded parameters file, issues a
    certificate for every CSR (the `fail_thing` line fails), and writes the RESULTS and ERRORS reports.

    Like AWS (https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html, "a thing without a thing
    type can have up to three attributes"), a template whose thing has no ThingTypeName and more than three
    attributes fails every line; moto has no bulk registration at all."""

    def __init__(self, s3, fail_thing: str) -> None:
        self.s3, self.fail_thing = s3, fail_thing
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.input_key: str | None = None
        self.input_keys: list[str] = []
        self.lines: list[dict] = []
        self.results_url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "reports/results"})
        self.errors_url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "reports/errors"})

    def on_start(self, params, **_) -> None:
        self.template = json.loads(params["templateBody"])
        self.input_key = params["inputFileKey"]
        self.input_keys.append(self.input_key)

    def _attribute_error(self) -> str | None:
        thing = self.template["Resources"]["thing"]["Properties"]
        if "ThingTypeName" not in thing and len(thing.get("AttributePayload", {})) > 3:
            return "InvalidRequestException: a thing without a thing type can have at most 3 attributes"
        return None

    def on_describe(self, **_) -> None:
        if self.input_key is None or self.input_key in getattr(self, "_done", set()):
            return
        self._done = getattr(self, "_done", set()) | {self.input_key}
        body = self.s3.get_object(Bucket=BUCKET, Key=self.input_key)["Body"].read()
        results, errors, offset = [], [], 0
        for i, raw in enumerate(body.splitlines(keepends=True)):
            line = json.loads(raw)
            self.lines.append(line)
            assert set(line) <= set(self.template["Parameters"])
            name = line["ThingName"]
            if name == self.fail_thing or self._attribute_error():
                errors.append({"lineNumber": i, "offset": offset,
                               "errorMessage": self._attribute_error()
                               or "ResourceAlreadyExistsException: Thing already exists"})
            else:
                csr = x509.load_pem_x509_csr(line["CSR"].encode())
                assert csr.is_signature_valid
                now = dt.datetime.now(dt.timezone.utc)
                cert = (x509.CertificateBuilder().subject_name(csr.subject)
                        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")]))
                        .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
                        .sign(self.ca_key, hashes.SHA256()))
                der = cert.public_bytes(serialization.Encoding.DER)
                import hashlib
                cert_id = hashlib.sha256(der).hexdigest()
                results.append({"lineNumber": i, "offset": offset, "response": {
                    "ResourceArns": {"certificate": f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{cert_id}",
                                     "thing": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{name}"},
                    "CertificatePem": cert.public_bytes(serialization.Encoding.PEM).decode()}})
            offset += len(raw)
        for key, items in (("reports/results", results), ("reports/errors", errors)):
            self.s3.put_object(Bucket=BUCKET, Key=key, Body="\n".join(json.dumps(x) for x in items).encode())


@pytest.fixture
def bulk(aws_env, tmp_path: Path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    iot = boto3.client("iot")
    stubber = Stubber(iot)
    settings = AwsSettings().model_copy(update={
        "registration_mode": "bulk", "bulk_bucket": BUCKET, "bulk_role_arn": ROLE, "bulk_poll_seconds": 0.0})
    fleet = tmp_path / "fleet"
    ledger = Ledger(fleet, FleetManifest(target="aws", endpoint="abc-ats.iot.us-east-1.amazonaws.com",
                                         prefix="weather-station", things=[], region=REGION))
    ctx = FleetContext(settings=settings, clients=AwsClients(iot=iot, s3=s3, sts=None, region=REGION),
                       ledger=ledger, fleet_dir=fleet, prefix="weather-station", account=ACCOUNT,
                       endpoint="abc-ats.iot.us-east-1.amazonaws.com", policy_name="weather-fleet-station")
    return ctx, stubber, s3


def _queue_task(stubber: Stubber, runner: FakeTaskRunner, *, in_progress: int = 1, start: bool = True,
                task_id: str = "task-1", fleet_things: list[str] | None = None) -> None:
    """The calls of one task; `fleet_things`: what ListThings by the fleet attribute answers after it (None:
    no failed line, so no reconciliation call)."""
    if start:
        stubber.add_response("start_thing_registration_task", {"taskId": task_id},
                             {"templateBody": ANY, "inputFileBucket": BUCKET, "inputFileKey": ANY, "roleArn": ROLE})
    for _ in range(in_progress):
        stubber.add_response("describe_thing_registration_task",
                             {"taskId": task_id, "status": "InProgress", "percentageProgress": 40}, {"taskId": task_id})
    stubber.add_response("describe_thing_registration_task",
                         {"taskId": task_id, "status": "Completed", "successCount": 4, "failureCount": 1,
                          "percentageProgress": 100}, {"taskId": task_id})
    stubber.add_response("list_thing_registration_task_reports",
                         {"resourceLinks": [runner.results_url], "reportType": "RESULTS"},
                         {"taskId": task_id, "reportType": "RESULTS"})
    stubber.add_response("list_thing_registration_task_reports",
                         {"resourceLinks": [runner.errors_url], "reportType": "ERRORS"},
                         {"taskId": task_id, "reportType": "ERRORS"})
    if fleet_things is not None:
        _queue_list_things(stubber, fleet_things)


def _queue_list_things(stubber: Stubber, names: list[str]) -> None:
    stubber.add_response("list_things", {"things": [
        {"thingName": n, "thingArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/{n}",
         "attributes": {"managed_by": "weather-fleet", "fleet": "weather-station"}} for n in names]},
        {"attributeName": "fleet", "attributeValue": "weather-station", "maxResults": 250})


def _queue_nothing_made(stubber: Stubber, name: str) -> None:
    """After ListThings by attribute: DescribeThing of the failed line (the index may lag; AWS answers
    ResourceNotFoundException for a thing that does not exist) and the policy's targets (no orphan certificate)."""
    stubber.add_client_error("describe_thing", service_error_code="ResourceNotFoundException", http_status_code=404,
                             expected_params={"thingName": name})
    stubber.add_response("list_targets_for_policy", {"targets": []},
                         {"policyName": "weather-fleet-station", "pageSize": 250})


def test_bulk_task_records_each_thing_and_reports_failures(bulk, data_dir: Path) -> None:
    ctx, stubber, s3 = bulk
    planned = planned_things(5, "weather-station", data_dir)
    runner = FakeTaskRunner(s3, fail_thing="weather-station-3")
    ctx.clients.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    ctx.clients.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", runner.on_describe)
    _queue_task(stubber, runner, in_progress=2, fleet_things=[])  # the failed line made nothing
    _queue_nothing_made(stubber, "weather-station-3")
    with stubber:
        outcome = register_bulk(ctx, planned)
    stubber.assert_no_pending_responses()

    assert outcome.status == "Completed"
    assert sorted(outcome.succeeded) == ["weather-station-1", "weather-station-2", "weather-station-4",
                                         "weather-station-5"]
    assert outcome.failed == {"weather-station-3": "ResourceAlreadyExistsException: Thing already exists"}
    # the parameters file that went to S3: one line per thing, CSRs of the keys held locally
    assert [ln["ThingName"] for ln in runner.lines] == [p.thing_name for p in planned]
    assert [ln["IsdFile"] for ln in runner.lines] == [p.isd_file for p in planned]
    for line in runner.lines:
        key = load_private_key(ctx.fleet_dir / "things" / line["ThingName"] / "private.key")
        csr = x509.load_pem_x509_csr(line["CSR"].encode())
        assert csr.public_key().public_numbers() == key.public_key().public_numbers()
        assert "PRIVATE" not in line["CSR"]
    assert runner.template["Resources"]["policy"]["Properties"]["PolicyName"] == "weather-fleet-station"

    state = load_state(ctx.fleet_dir)
    names = [t.thing_name for t in state.things]
    assert sorted(names) == sorted(outcome.succeeded)
    for t in state.things:
        folder = ctx.fleet_dir / t.identity_dir
        assert certificate_matches_key((folder / "certificate.pem").read_text(), load_private_key(folder / "private.key"))
        assert t.certificate_id == t.certificate_sha256
        assert t.thing_arn.endswith(f":thing/{t.thing_name}")
    kinds = [r.kind for r in state.aws_resources]
    assert kinds.count("thing") == kinds.count("certificate") == kinds.count("principal_attachment") == 4
    objects = [r for r in state.aws_resources if r.kind == "bucket_object"]
    assert len(objects) == 1 and objects[0].extra == {"bucket": BUCKET}
    assert s3.head_object(Bucket=BUCKET, Key=objects[0].name)
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=objects[0].name)["TagSet"]
    assert {"Key": "managed-by", "Value": "weather-fleet"} in tags


def test_bulk_timeout_then_resume_without_a_second_task(bulk) -> None:
    ctx, stubber, s3 = bulk
    planned = planned_things(3, "weather-station", None)
    runner = FakeTaskRunner(s3, fail_thing="none")
    ctx.clients.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    ctx.clients.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", runner.on_describe)
    ctx.settings = ctx.settings.model_copy(update={"bulk_timeout_seconds": 0.001})
    stubber.add_response("start_thing_registration_task", {"taskId": "task-1"})
    stubber.add_response("describe_thing_registration_task", {"taskId": "task-1", "status": "InProgress"})
    with stubber, pytest.raises(RegistrationError, match="IOT_BULK_TIMEOUT_SECONDS"):
        register_bulk(ctx, planned)
    pending = [r for r in load_state(ctx.fleet_dir).aws_resources if r.kind == "bucket_object"]
    assert pending and pending[0].extra["task_id"] == "task-1"

    # next run: no StartThingRegistrationTask (the stubber would reject it), the same task is collected
    ctx.settings = ctx.settings.model_copy(update={"bulk_timeout_seconds": 60})
    _queue_task(stubber, runner, in_progress=0, start=False)
    with stubber:
        outcome = register_bulk(ctx, planned)
    stubber.assert_no_pending_responses()
    assert sorted(outcome.succeeded) == [p.thing_name for p in planned]


def test_bulk_needs_bucket_and_role(bulk) -> None:
    ctx, stubber, _ = bulk
    ctx.settings = ctx.settings.model_copy(update={"bulk_bucket": None})
    with stubber, pytest.raises(RegistrationError, match="IOT_BULK_BUCKET and IOT_BULK_ROLE_ARN"):
        register_bulk(ctx, planned_things(2, "weather-station", None))
    assert not (ctx.fleet_dir / "things").exists()


def test_stubber_checks_calls_against_the_real_model() -> None:
    """The stubbed calls are validated by botocore's model: a wrong parameter is an error, not a pass."""
    iot = boto3.client("iot", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iot) as stubber:
        stubber.add_response("start_thing_registration_task", {"taskId": "t"})
        with pytest.raises(Exception, match="roleArn"):
            iot.start_thing_registration_task(templateBody="{}", inputFileBucket=BUCKET, inputFileKey="k")


@pytest.mark.parametrize("thing_type", ["weather-station", None])
def test_template_keeps_to_three_attributes_without_a_thing_type(thing_type) -> None:
    """https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html: a thing without a thing type may
    have 3 attributes (50 with one)."""
    t = provisioning_template(policy_name="p", thing_type=thing_type, thing_group=None, prefix="ws")
    attrs = t["Resources"]["thing"]["Properties"]["AttributePayload"]
    assert len(attrs) == (4 if thing_type else 3)
    assert {"managed_by", "fleet", "station_id"} <= set(attrs)  # the markers reconciliation relies on stay
    assert template_refs(t) == set(t["Parameters"])
    body, _ = parameters_lines(planned_things(2, "ws", None), {"ws-1": "c1", "ws-2": "c2"}, typed=bool(thing_type))
    assert all(set(json.loads(ln)) == set(t["Parameters"]) for ln in body.decode().splitlines())


def test_bulk_without_a_thing_type_passes_the_attribute_limit(bulk) -> None:
    ctx, stubber, s3 = bulk
    ctx.settings = ctx.settings.model_copy(update={"thing_type": ""})
    runner = FakeTaskRunner(s3, fail_thing="none")
    ctx.clients.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    ctx.clients.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", runner.on_describe)
    _queue_task(stubber, runner, in_progress=0)
    with stubber:
        outcome = register_bulk(ctx, planned_things(3, "weather-station", None))
    assert outcome.failed == {} and len(outcome.succeeded) == 3
    assert "ThingTypeName" not in runner.template["Resources"]["thing"]["Properties"]


def test_failed_line_whose_thing_exists_is_adopted_so_unregister_removes_it(bulk) -> None:
    """A failed line may have created its thing (and certificate) before failing: after the task, the fleet's
    things are listed by attribute and that one is recorded with what is attached to it."""
    ctx, stubber, s3 = bulk
    planned = planned_things(4, "weather-station", None)
    runner = FakeTaskRunner(s3, fail_thing="weather-station-3")
    ctx.clients.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    ctx.clients.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", runner.on_describe)
    orphan_cert = f"arn:aws:iot:{REGION}:{ACCOUNT}:cert/{'ab' * 32}"
    _queue_task(stubber, runner, in_progress=0, fleet_things=["weather-station-1", "weather-station-3"])
    stubber.add_response("list_thing_principals", {"principals": [orphan_cert]}, {"thingName": "weather-station-3"})
    stubber.add_response("list_attached_policies", {"policies": [
        {"policyName": "weather-fleet-station", "policyArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:policy/x"}]},
        {"target": orphan_cert})
    with stubber:
        outcome = register_bulk(ctx, planned)
    stubber.assert_no_pending_responses()
    assert outcome.adopted == ["weather-station-3"]
    assert "weather-station-3" in outcome.failed

    from provisioning.aws.teardown import ordered
    state = load_state(ctx.fleet_dir)
    phases = {kind: {r.name for r in items} for kind, items in ordered(state)}
    assert "weather-station-3" in phases["thing"]
    assert "ab" * 32 in phases["certificate"]
    assert "weather-station-3" in phases["principal_attachment"]
    assert any(r.kind == "policy_attachment" and r.extra.get("target") == orphan_cert for r in state.aws_resources)
    # not re-sent in a task by the next run: it is recorded (the direct path finishes it)
    from provisioning.aws.bulk import _pending_tasks
    assert not _pending_tasks(ctx)
    with Stubber(ctx.clients.iot):  # no call at all: nothing left to send
        again = register_bulk(ctx, planned)
    assert again is None


def test_a_large_fleet_is_split_into_tasks_run_one_after_another(bulk) -> None:
    """Several parameters files of at most IOT_BULK_MAX_TASK_BYTES, one task at a time (AWS runs one bulk task
    per account at a time: https://docs.aws.amazon.com/iot/latest/developerguide/bulk-provisioning.html),
    each polled to its end and collected before the next starts."""
    ctx, stubber, s3 = bulk
    planned = planned_things(7, "weather-station", None)
    ctx.settings = ctx.settings.model_copy(update={"bulk_max_task_bytes": 2048})  # ~450-byte lines: 4 + 3
    runner = FakeTaskRunner(s3, fail_thing="none")
    ctx.clients.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    ctx.clients.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", runner.on_describe)
    for i in (1, 2):
        _queue_task(stubber, runner, in_progress=1, task_id=f"task-{i}")
    with stubber:
        outcome = register_bulk(ctx, planned)
    stubber.assert_no_pending_responses()
    assert outcome.task_ids == ["task-1", "task-2"]
    assert len(runner.input_keys) == 2 == len(set(runner.input_keys))
    for key in runner.input_keys:
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] <= 2048
    assert sorted(outcome.succeeded) == sorted(p.thing_name for p in planned)
    assert [ln["ThingName"] for ln in runner.lines] == [p.thing_name for p in planned]
    objects = [r for r in load_state(ctx.fleet_dir).aws_resources if r.kind == "bucket_object"]
    assert sorted(r.name for r in objects) == sorted(runner.input_keys)


def test_task_chunks_respect_the_byte_limit() -> None:
    from provisioning.aws.bulk import task_chunks

    planned = planned_things(10_000, "weather-station", None)
    csrs = {p.thing_name: "x" * 560 for p in planned}  # a P-256 CSR in PEM is about 560 characters
    chunks = task_chunks(planned, csrs, typed=True, max_bytes=5 * 1024 * 1024)
    assert [p for c in chunks for p in c] == planned
    assert len(chunks) == 2
    assert all(len(parameters_lines(c, csrs)[0]) <= 5 * 1024 * 1024 for c in chunks)


def test_register_finishes_an_adopted_thing_directly_and_unregister_removes_it(aws_env, tmp_path: Path,
                                                                              capsys) -> None:
    """End to end: the task's calls are stubbed (moto has no bulk registration), everything else is moto. Line 2
    fails after AWS created its thing: register adopts it, finishes it with the direct calls (certificate from
    the local key's CSR, attachments) and exits 0; unregister leaves no thing behind."""
    from provisioning.aws import commands
    from tests.support.pipeline_aws import OperationStubber
    from tests.provisioning.aws_fixtures import args, clients

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    iot = boto3.client("iot")
    c = clients()
    runner = FakeTaskRunner(s3, fail_thing="weather-station-2")
    made_by_failed_line = []

    def on_describe(**kw):
        if not made_by_failed_line:  # AWS created the thing of the failed line before the line failed
            iot.create_thing(thingName="weather-station-2", thingTypeName="weather-station", attributePayload={
                "attributes": {"managed_by": "weather-fleet", "fleet": "weather-station", "station_id": "x"}})
            made_by_failed_line.append(True)
        runner.on_describe(**kw)

    c.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    c.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", on_describe)
    env = {"IOT_BULK_BUCKET": BUCKET, "IOT_BULK_ROLE_ARN": ROLE, "IOT_BULK_POLL_SECONDS": "0"}
    import os
    os.environ.update(env)
    try:
        with OperationStubber(c.iot, "StartThingRegistrationTask", "DescribeThingRegistrationTask",
                              "ListThingRegistrationTaskReports") as stubber:
            _queue_task(stubber, runner, in_progress=0)
            rc = commands.register(args("register", "--count", "3", "--fleet-dir", str(tmp_path / "fleet"),
                                        "--registration-mode", "bulk"), clients=c)
            stubber.assert_no_pending_responses()
    finally:
        for k in env:
            os.environ.pop(k)
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "adopted 1 thing(s)" in err and "weather-station-2" in err
    state = load_state(tmp_path / "fleet")
    adopted = next(t for t in state.things if t.thing_name == "weather-station-2")
    principals = iot.list_thing_principals(thingName="weather-station-2")["principals"]
    assert principals == [adopted.certificate_arn]  # finished directly, in the account
    key = load_private_key(tmp_path / "fleet" / adopted.identity_dir / "private.key")
    assert certificate_matches_key((tmp_path / "fleet" / adopted.identity_dir / "certificate.pem").read_text(), key)

    assert commands.unregister(args("unregister", "--fleet-dir", str(tmp_path / "fleet")), clients=c) == 0
    assert "weather-station-2" not in {t["thingName"] for t in iot.list_things()["things"]}


def test_a_failed_lines_thing_not_yet_listed_and_its_orphan_certificate_are_adopted(bulk) -> None:
    """ListThings' attribute filter reads the fleet index, which lags (eventual consistency); DescribeThing does
    not. A failed line whose thing the index does not show yet is found by its attributes; a failed line that
    made only its certificate (attached to the policy, no thing) is found by its own key among the policy's
    targets. Both are recorded so unregister removes them."""
    from provisioning.aws.identity import csr_pem, load_private_key

    ctx, stubber, s3 = bulk
    planned = planned_things(4, "weather-station", None)
    runner = FakeTaskRunner(s3, fail_thing="weather-station-3")
    ctx.clients.iot.meta.events.register("provide-client-params.iot.StartThingRegistrationTask", runner.on_start)
    ctx.clients.iot.meta.events.register("provide-client-params.iot.DescribeThingRegistrationTask", runner.on_describe)
    _queue_task(stubber, runner, in_progress=0, fleet_things=[])  # the index shows nothing yet
    arn = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/weather-station-3"
    stubber.add_response("describe_thing", {"thingName": "weather-station-3", "thingArn": arn, "attributes": {
        "managed_by": "weather-fleet", "fleet": "weather-station"}}, {"thingName": "weather-station-3"})
    stubber.add_response("list_thing_principals", {"principals": []}, {"thingName": "weather-station-3"})
    with stubber:
        outcome = register_bulk(ctx, planned)
    stubber.assert_no_pending_responses()
    assert outcome.adopted == ["weather-station-3"]
    assert ctx.ledger.find("thing", "weather-station-3")

    # a certificate with no thing: made from the failed line's CSR (moto signs it), attached to the policy
    from provisioning.aws.fleet import adopt_orphan_certificates

    iot = boto3.client("iot")
    iot.create_policy(policyName="weather-fleet-station", policyDocument='{"Version": "2012-10-17", "Statement": []}')
    key = load_private_key(ctx.fleet_dir / "things" / "weather-station-3" / "private.key")
    cert = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem(key, "weather-station-3"),
                                           setAsActive=True)
    iot.attach_policy(policyName="weather-fleet-station", target=cert["certificateArn"])
    ctx.clients.iot = iot
    assert adopt_orphan_certificates(ctx, ["weather-station-3", "weather-station-9"]) == ["weather-station-3"]
    recorded = ctx.ledger.find("certificate", cert["certificateId"])
    assert recorded and recorded.extra["thing"] == "weather-station-3"
    assert any(r.kind == "policy_attachment" and r.extra.get("target") == cert["certificateArn"]
               for r in ctx.ledger.resources("policy_attachment"))
