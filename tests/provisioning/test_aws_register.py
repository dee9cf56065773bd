"""Direct registration and unregister against moto (ThreadedMotoServer, through AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509

from provisioning.aws import commands
from provisioning.aws.identity import certificate_matches_key, certificate_sha256, load_private_key
from provisioning.aws.ledger import journal_path, load_state
from provisioning.aws.policy import policy_document
from provisioning.aws.rootca import amazon_root_ca_pem
from deploy.deployment import write_deployment
from fleetcore.manifest import load_manifest, manifest_path
from stationdata.stations import assign
from tests.provisioning.aws_fixtures import args, aws_env, clients, iot, moto_endpoint  # noqa: F401

ACCOUNT = "123456789012"
REGION = "us-east-1"
CREATE_OPS = {"CreateThing", "CreateCertificateFromCsr", "CreateKeysAndCertificate", "CreatePolicy",
              "AttachPolicy", "AttachThingPrincipal", "CreateThingType", "CreateThingGroup",
              "AddThingToThingGroup", "CreatePolicyVersion"}


def snapshot(iot) -> dict[str, set[str]]:
    """Everything in the (moto) account that registration could touch."""
    def names(op, key, field):
        out = set()
        for page in iot.get_paginator(op).paginate():
            out |= {item[field] for item in page[key]}
        return out
    return {
        "things": names("list_things", "things", "thingName"),
        "certificates": names("list_certificates", "certificates", "certificateId"),
        "policies": names("list_policies", "policies", "policyName"),
        "groups": names("list_thing_groups", "thingGroups", "groupName"),
        "types": names("list_thing_types", "thingTypes", "thingTypeName"),
    }


def someone_elses_resources(iot) -> dict[str, str]:
    """A thing, an active certificate and a policy made by another tool, attached to each other."""
    iot.create_thing(thingName="other-team-sensor")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(policyName="other-team-policy", policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    iot.attach_policy(policyName="other-team-policy", target=cert["certificateArn"])
    iot.attach_thing_principal(thingName="other-team-sensor", principal=cert["certificateArn"])
    iot.create_thing_group(thingGroupName="other-team-group")
    return {"thing": "other-team-sensor", "certificate": cert["certificateId"], "policy": "other-team-policy"}


def record_calls(c) -> list[str]:
    """Names of the IoT operations the client sends (botocore's own event hooks)."""
    calls: list[str] = []
    c.iot.meta.events.register("before-call.iot.*", lambda model, **_: calls.append(model.name))
    return calls


def test_register_five_things(aws_env, iot, tmp_path: Path, data_dir: Path) -> None:
    fleet = tmp_path / "fleet"
    c = clients()
    endpoints = []
    c.iot.meta.events.register("after-call.iot.DescribeEndpoint",
                               lambda parsed, **_: endpoints.append(parsed["endpointAddress"]))
    rc = commands.register(args("register", "--count", "5", "--fleet-dir", str(fleet), "--data-dir", str(data_dir)),
                           clients=c)
    assert rc == 0
    m = load_manifest(fleet)
    assert m.target == "aws" and m.region == REGION and m.prefix == "weather-station"
    assert [m.endpoint] == endpoints  # moto makes up a new host per call; AWS's is stable
    assert m.endpoint.endswith(f"-ats.iot.{REGION}.amazonaws.com")
    assert [t.thing_name for t in m.things] == [f"weather-station-{i}" for i in range(1, 6)]
    assert [t.isd_file for t in m.things] == [sf.path.name for sf in assign(5, data_dir)]  # as the local fleet
    write_deployment(fleet, data_dir, m)  # `make register TARGET=aws`: the same deployment step as local
    compose_env = (fleet / "compose.env").read_text().splitlines()
    assert f"STATIONS_MQTT_HOST={m.endpoint}" in compose_env
    assert f"STATION_1_THING=weather-station-1" in compose_env and "FLEET_SIZE=5" in compose_env

    ca = amazon_root_ca_pem()
    for t in m.things:
        folder = fleet / t.identity_dir
        key = load_private_key(folder / "private.key")
        cert_pem = (folder / "certificate.pem").read_text()
        # the certificate AWS holds is the one on disk, and it certifies the locally held key
        described = iot.describe_certificate(certificateId=t.certificate_id)["certificateDescription"]
        assert described["certificatePem"].strip() == cert_pem.strip()
        assert described["status"] == "ACTIVE"
        assert certificate_matches_key(cert_pem, key)
        assert t.certificate_sha256 == certificate_sha256(cert_pem) == t.certificate_id
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        assert cert.subject.rfc4514_string() == f"CN={t.thing_name}"
        assert stat.S_IMODE(os.stat(folder / "private.key").st_mode) == 0o600
        assert (folder / "ca.pem").read_text() == ca
        # the thing: attributes, type, group, principal, policy
        desc = iot.describe_thing(thingName=t.thing_name)
        assert desc["thingArn"] == t.thing_arn
        assert desc["thingTypeName"] == "weather-station"
        assert desc["attributes"] == {"station_id": t.station_id, "isd_file": t.isd_file,
                                      "managed_by": "weather-fleet", "fleet": "weather-station"}
        assert t.station_id == t.isd_file.rsplit("-", 1)[0]
        assert iot.list_thing_principals(thingName=t.thing_name)["principals"] == [t.certificate_arn]
        policies = iot.list_attached_policies(target=t.certificate_arn)["policies"]
        assert [p["policyName"] for p in policies] == ["weather-fleet-station"]
        groups = iot.list_thing_groups_for_thing(thingName=t.thing_name)["thingGroups"]
        assert [g["groupName"] for g in groups] == ["weather-fleet"]

    # the policy in AWS is exactly the least-privilege document
    doc = json.loads(iot.get_policy(policyName="weather-fleet-station")["policyDocument"])
    assert doc == policy_document(REGION, ACCOUNT, ["sensor/weather"])

    # every resource in the account that we made is in the manifest, and nothing else is
    snap = snapshot(iot)
    recorded = {k: {r.name for r in m.aws_resources if r.kind == k} for k in
                ("thing", "certificate", "policy", "thing_group", "thing_type")}
    assert recorded["thing"] == snap["things"]
    assert recorded["certificate"] == snap["certificates"]
    assert recorded["policy"] == snap["policies"] == {"weather-fleet-station"}
    assert recorded["thing_group"] == snap["groups"] and recorded["thing_type"] == snap["types"]
    assert len([r for r in m.aws_resources if r.kind == "policy_attachment"]) == 5
    assert len([r for r in m.aws_resources if r.kind == "principal_attachment"]) == 5
    assert not journal_path(fleet).exists()  # everything is in the manifest


def test_second_register_creates_nothing(aws_env, iot, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    argv = ("register", "--count", "5", "--fleet-dir", str(fleet))
    assert commands.register(args(*argv)) == 0
    before, manifest_before = snapshot(iot), manifest_path(fleet).read_text()
    c = clients()
    calls = record_calls(c)
    assert commands.register(args(*argv), clients=c) == 0
    assert not set(calls) & CREATE_OPS, calls
    assert snapshot(iot) == before
    # identical but for the endpoint host, which moto (unlike AWS) invents anew on every DescribeEndpoint
    again = load_manifest(fleet).model_dump()
    first = json.loads(manifest_before)
    assert again.pop("endpoint").endswith("-ats.iot.us-east-1.amazonaws.com")
    first.pop("endpoint")
    assert again == first


def test_register_grows_an_existing_fleet(aws_env, iot, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet))) == 0
    first = load_manifest(fleet).things
    c = clients()
    calls = record_calls(c)
    assert commands.register(args("register", "--count", "3", "--fleet-dir", str(fleet)), clients=c) == 0
    assert calls.count("CreateThing") == 1 and calls.count("CreateCertificateFromCsr") == 1
    assert "CreatePolicy" not in calls
    m = load_manifest(fleet)
    assert m.things[:2] == first and len(m.things) == 3


def test_unregister_leaves_other_resources_alone(aws_env, iot, tmp_path: Path) -> None:
    theirs = someone_elses_resources(iot)
    before = snapshot(iot)
    fleet = tmp_path / "fleet"
    (tmp_path / "unrelated.txt").write_text("keep me")
    assert commands.register(args("register", "--count", "5", "--fleet-dir", str(fleet), "--with-hello")) == 0
    m = load_manifest(fleet)
    hello = m.thing("weather-station-hello")
    assert hello.role == "hello"
    hello_policy = iot.list_attached_policies(target=hello.certificate_arn)["policies"][0]["policyName"]
    assert json.loads(iot.get_policy(policyName=hello_policy)["policyDocument"]) == \
        policy_document(REGION, ACCOUNT, ["hello/world"])
    assert snapshot(iot)["things"] == before["things"] | {t.thing_name for t in m.things}

    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 0
    assert snapshot(iot) == before
    # theirs still intact, attachments included
    assert iot.list_thing_principals(thingName=theirs["thing"])["principals"]
    cert = iot.describe_certificate(certificateId=theirs["certificate"])["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    assert [p["policyName"] for p in iot.list_attached_policies(target=cert["certificateArn"])["policies"]] == \
        [theirs["policy"]]
    assert not manifest_path(fleet).exists() and not (fleet / "things").exists() or \
        not any((fleet / "things").iterdir())
    assert (tmp_path / "unrelated.txt").read_text() == "keep me"
    # a second unregister has nothing to do
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 0


def test_injected_failure_halfway_then_unregister_cleans_up(aws_env, iot, tmp_path: Path, capsys) -> None:
    someone_elses_resources(iot)
    before = snapshot(iot)
    fleet = tmp_path / "fleet"
    c = clients()
    attached = []

    def fail_on_the_fifth(model, **_):
        if model.name == "AttachThingPrincipal":
            attached.append(1)
            if len(attached) == 5:
                raise ConnectionResetError("injected: network dropped")

    c.iot.meta.events.register("before-call.iot.AttachThingPrincipal", fail_on_the_fifth)
    rc = commands.register(args("register", "--count", "12", "--concurrency", "3", "--fleet-dir", str(fleet)),
                           clients=c)
    assert rc == 1
    err = capsys.readouterr().err
    assert "injected" in err and "make unregister TARGET=aws" in err
    state = load_state(fleet)
    made = {k: snapshot(iot)[k] - before[k] for k in before}
    assert made["things"] and made["certificates"]
    assert made["things"] == {r.name for r in state.aws_resources if r.kind == "thing"}
    assert made["certificates"] == {r.name for r in state.aws_resources if r.kind == "certificate"}
    assert len(state.things) < 12

    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 0
    assert snapshot(iot) == before
    assert not manifest_path(fleet).exists()


def test_failure_then_register_again_finishes_the_fleet(aws_env, iot, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    c = clients()
    n = []

    def fail_once(model, **_):
        n.append(1)
        if len(n) == 3:
            raise ConnectionResetError("injected")

    c.iot.meta.events.register("before-call.iot.AttachPolicy", fail_once)
    argv = ("register", "--count", "6", "--concurrency", "2", "--fleet-dir", str(fleet))
    assert commands.register(args(*argv), clients=c) == 1
    assert commands.register(args(*argv)) == 0
    m = load_manifest(fleet)
    assert len(m.things) == 6
    # one certificate per thing: the retry reused what the first run made
    assert len(snapshot(iot)["certificates"]) == 6
    for t in m.things:
        assert iot.list_thing_principals(thingName=t.thing_name)["principals"] == [t.certificate_arn]


def test_name_conflict_stops_before_creating_anything(aws_env, iot, tmp_path: Path, capsys) -> None:
    iot.create_thing(thingName="weather-station-3")
    before = snapshot(iot)
    rc = commands.register(args("register", "--count", "5", "--fleet-dir", str(tmp_path / "fleet")))
    assert rc == 1
    assert "weather-station-3" in capsys.readouterr().err
    assert snapshot(iot) == before


def test_a_thing_marked_as_this_fleets_is_adopted_not_called_foreign(aws_env, iot, tmp_path: Path) -> None:
    """A run stopped before it recorded a thing (or a thing ListThings' index did not show yet: AWS's fleet index
    is eventually consistent, https://docs.aws.amazon.com/iot/latest/developerguide/managing-fleet-index.html)
    leaves a thing carrying this fleet's attributes: the next register adopts it, unregister then removes it."""
    iot.create_thing(thingName="weather-station-2",
                     attributePayload={"attributes": {"managed_by": "weather-fleet", "fleet": "weather-station"}})
    fleet = tmp_path / "fleet"
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet))) == 0
    state = commands.load_state(fleet)
    assert {r.name for r in state.aws_resources if r.kind == "thing"} == {"weather-station-1", "weather-station-2"}
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 0
    assert iot.list_things()["things"] == []


def test_a_thing_of_another_fleet_is_still_foreign(aws_env, iot, tmp_path: Path, capsys) -> None:
    iot.create_thing(thingName="weather-station-2",
                     attributePayload={"attributes": {"managed_by": "weather-fleet", "fleet": "other"}})
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(tmp_path / "fleet"))) == 1
    assert "weather-station-2" in capsys.readouterr().err


def test_same_named_policy_is_not_adopted(aws_env, iot, tmp_path: Path, capsys) -> None:
    iot.create_policy(policyName="weather-fleet-station", policyDocument='{"Version":"2012-10-17","Statement":[]}')
    before = snapshot(iot)
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(tmp_path / "fleet"))) == 1
    assert "IOT_POLICY_NAME" in capsys.readouterr().err
    assert snapshot(iot) == before


def test_no_credentials_is_one_clear_error(aws_env, monkeypatch, tmp_path: Path, capsys) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    rc = commands.register(args("register", "--count", "2", "--fleet-dir", str(tmp_path / "fleet")))
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "AWS_ACCESS_KEY_ID" in err[0] and "AWS_PROFILE" in err[0] and "aws configure" in err[0]
    assert not (tmp_path / "fleet").exists()


def test_dry_run_changes_nothing(aws_env, iot, tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet"
    assert commands.register(args("register", "--count", "3", "--fleet-dir", str(fleet), "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "weather-station-1" in out and "iot:Connection.Thing.IsAttached" in out
    assert not fleet.exists() and snapshot(iot)["things"] == set()

    assert commands.register(args("register", "--count", "3", "--fleet-dir", str(fleet))) == 0
    before = snapshot(iot)
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet), "--dry-run")) == 0
    out = capsys.readouterr().out
    order = [out.index(w) for w in ("x policy attachment", "x principal attachment", "x certificate", "x thing\n",
                                    "delete policy weather-fleet-station")]
    assert order == sorted(order), out
    assert snapshot(iot) == before and manifest_path(fleet).exists()


def test_refuses_to_overwrite_a_local_fleet(aws_env, tmp_path: Path, capsys) -> None:
    from fleetcore.manifest import FleetManifest, save_manifest

    fleet = tmp_path / "fleet"
    save_manifest(fleet, FleetManifest(target="local", endpoint="broker", prefix="weather-station", things=[]))
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet))) == 2
    assert "--force" in capsys.readouterr().err
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 2
    assert load_manifest(fleet).target == "local"


def test_thing_type_awaiting_deletion_is_kept_then_reused(aws_env, iot, tmp_path: Path, capsys) -> None:
    """AWS deletes a deprecated thing type only 5 minutes later (moto at once): the refusal is reported, the
    type stays recorded, a new register un-deprecates and reuses it, and the next unregister deletes it."""
    from botocore.awsrequest import AWSResponse

    fleet = tmp_path / "fleet"
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet))) == 0
    c = clients()

    def five_minute_rule(**_):
        body = {"Error": {"Code": "InvalidRequestException",
                          "Message": "Thing type can be deleted only 5 minutes after deprecation"},
                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("http://iot", 400, {}, None), body

    c.iot.meta.events.register("before-call.iot.DeleteThingType", five_minute_rule)
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet)), clients=c) == 0
    assert "5 minutes" in capsys.readouterr().out
    left = load_manifest(fleet)
    assert [(r.kind, r.name) for r in left.aws_resources] == [("thing_type", "weather-station")]
    assert left.things == [] and snapshot(iot)["things"] == set()
    assert iot.describe_thing_type(thingTypeName="weather-station")["thingTypeMetadata"]["deprecated"]

    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet))) == 0
    assert not iot.describe_thing_type(thingTypeName="weather-station")["thingTypeMetadata"]["deprecated"]
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 0
    assert snapshot(iot) == {"things": set(), "certificates": set(), "policies": set(), "groups": set(),
                             "types": set()}


def test_fleet_cli_delegates_target_aws(aws_env, iot, tmp_path: Path, capsys) -> None:
    """`python -m provisioning register|unregister --target aws` (what `make register TARGET=aws` runs)."""
    from provisioning.cli import main as fleet_cli

    fleet = tmp_path / "fleet"
    assert fleet_cli(["register", "--target", "aws", "--count", "2", "--fleet-dir", str(fleet),
                      "--data-dir", str(tmp_path / "no-data"), "--concurrency", "2", "--with-hello"]) == 0
    m = load_manifest(fleet)
    assert m.target == "aws" and [t.thing_name for t in m.things] == [
        "weather-station-1", "weather-station-2", "weather-station-hello"]
    assert fleet_cli(["unregister", "--target", "aws", "--fleet-dir", str(fleet), "--dry-run"]) == 0
    assert "x principal attachment" in capsys.readouterr().out
    assert fleet_cli(["unregister", "--target", "aws", "--fleet-dir", str(fleet)]) == 0
    assert snapshot(iot)["things"] == set() and not manifest_path(fleet).exists()


def test_aws_generated_keys_on_request(aws_env, iot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("IOT_CERTIFICATE_MODE", "aws-keys")
    fleet = tmp_path / "fleet"
    c = clients()
    calls = record_calls(c)
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet)), clients=c) == 0
    assert calls.count("CreateKeysAndCertificate") == 2 and "CreateCertificateFromCsr" not in calls
    for t in load_manifest(fleet).things:
        folder = fleet / t.identity_dir
        assert certificate_matches_key((folder / "certificate.pem").read_text(), load_private_key(folder / "private.key"))
        assert stat.S_IMODE(os.stat(folder / "private.key").st_mode) == 0o600


@pytest.mark.slow
def test_register_1000_things(aws_env, iot, tmp_path: Path) -> None:
    """1,000 things through the direct path; a second run then makes no create call at all.

    (Teardown at scale is the same code as for 5 things; `make bench-register` times it for 1,000.)
    """
    before = snapshot(iot)
    fleet = tmp_path / "fleet"
    argv = ("register", "--count", "1000", "--concurrency", "16", "--fleet-dir", str(fleet))
    assert commands.register(args(*argv)) == 0
    m = load_manifest(fleet)
    assert len(m.things) == 1000 and m.things[0].thing_name == "weather-station-1"
    assert m.things[-1].thing_name == "weather-station-1000"
    snap = snapshot(iot)
    assert snap["things"] - before["things"] == {t.thing_name for t in m.things}
    assert snap["certificates"] - before["certificates"] == {t.certificate_id for t in m.things}
    assert len([r for r in m.aws_resources if r.kind == "principal_attachment"]) == 1000
    for t in m.things[::97]:
        folder = fleet / t.identity_dir
        assert certificate_matches_key((folder / "certificate.pem").read_text(),
                                       load_private_key(folder / "private.key"))
        assert iot.list_thing_principals(thingName=t.thing_name)["principals"] == [t.certificate_arn]
    c = clients()
    calls = record_calls(c)
    assert commands.register(args(*argv), clients=c) == 0
    assert not set(calls) & CREATE_OPS


def test_moto_is_patched_to_refuse_a_fourth_attribute_without_a_thing_type(aws_env, iot) -> None:
    """The limit AWS documents (https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html) is in
    force in these tests: the code under test cannot pass by moto's laxness."""
    from botocore.exceptions import ClientError

    four = {"attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}}
    with pytest.raises(ClientError, match="at most 3 attributes"):
        iot.create_thing(thingName="untyped", attributePayload=four)
    iot.create_thing_type(thingTypeName="typed")
    assert iot.create_thing(thingName="ok", thingTypeName="typed", attributePayload=four)["thingName"] == "ok"


@pytest.mark.parametrize("thing_type", ["weather-station", "none"])
def test_register_with_and_without_a_thing_type(aws_env, iot, tmp_path: Path, data_dir: Path, monkeypatch,
                                                thing_type: str) -> None:
    monkeypatch.setenv("IOT_THING_TYPE", thing_type)
    fleet = tmp_path / "fleet"
    rc = commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet), "--data-dir", str(data_dir)),
                           clients=clients())
    assert rc == 0
    for t in load_manifest(fleet).things:
        desc = iot.describe_thing(thingName=t.thing_name)
        expected = {"managed_by": "weather-fleet", "fleet": "weather-station", "station_id": t.station_id}
        if thing_type != "none":
            expected["isd_file"] = t.isd_file
            assert desc["thingTypeName"] == thing_type
        else:
            assert "thingTypeName" not in desc
        assert desc["attributes"] == expected


def _refuse(c, operation: str, code: str, message: str) -> None:
    """`c` answers `operation` with AWS's error, as AWS does for a denied call (moto allows everything)."""
    from botocore.awsrequest import AWSResponse

    def answer(**_):
        body = json.dumps({"message": message}).encode()
        return AWSResponse("https://aws", 403, {"x-amzn-ErrorType": code}, None), {
            "Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    c.meta.events.register(f"before-call.*.{operation}", answer)


@pytest.mark.parametrize(("code", "expected"), [
    ("AccessDeniedException", "AWS denied iot:AttachThingPrincipal on arn:aws:iot"),
    ("ExpiredTokenException", "session token has expired"),
])
def test_refusal_is_one_line_and_unregister_removes_what_was_made(aws_env, iot, tmp_path: Path, capsys,
                                                                 code: str, expected: str) -> None:
    fleet = tmp_path / "fleet"
    c = clients()
    _refuse(c.iot, "AttachThingPrincipal", code,
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/voclabs/x is not authorized to perform: "
            f"iot:AttachThingPrincipal on resource: arn:aws:iot:{REGION}:{ACCOUNT}:thing/weather-station-1")
    rc = commands.register(args("register", "--count", "1", "--fleet-dir", str(fleet), "--concurrency", "1"),
                           clients=c)
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert expected in err[0] and "make unregister TARGET=aws" in err[0]
    assert "AWS_SESSION_TOKEN" in err[0] or "AWS_REGION" in err[0]
    # the thing, its certificate and the policy attachment exist and are recorded: unregister removes them
    assert snapshot(iot)["things"] == {"weather-station-1"}
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet))) == 0
    assert snapshot(iot)["things"] == set() and snapshot(iot)["certificates"] == set()
