"""`make aws-doctor` against moto: read-only calls only, OK when everything is in place, FAIL lines with the fix
for what would stop a first run (a missing role, bad credentials), WARN for what cannot be checked."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from provisioning.aws import commands
from provisioning.aws.doctor import Doctor, Status
from provisioning.aws.settings import AwsSettings
from tests.provisioning.aws_fixtures import args, aws_env, iot, moto_endpoint  # noqa: F401

READ_ONLY = ("Get", "Describe", "List", "Head", "Simulate")


def lab_role(name: str = "LabRole") -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "iot.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    return boto3.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def recording_session(calls: list[str]) -> boto3.Session:
    session = boto3.Session()
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    return session


def test_everything_in_place_is_ok_and_only_reads(aws_env, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PIPELINE_ROLE_ARN", lab_role())
    calls: list[str] = []
    rc = commands.doctor(args("doctor", "--count", "5", "--fleet-dir", str(tmp_path / "f")),
                         session=recording_session(calls))
    out = capsys.readouterr().out
    assert rc == 0, out
    for what in ("region", "credentials", "IoT endpoint", "fleet names", "PIPELINE_ROLE_ARN", "quotas",
                 "message rate"):
        assert f"OK    {what}: " in out, out
    assert "account 123456789012" in out and "-ats.iot.us-east-1.amazonaws.com" in out
    assert "documented defaults" in out  # moto's Service Quotas knows only VPC quotas
    assert calls and all(name.startswith(READ_ONLY) for name in calls), calls
    assert not (tmp_path / "f").exists()


def test_missing_role_and_bulk_settings_fail_with_the_fix(aws_env, monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setenv("PIPELINE_ROLE_ARN", "arn:aws:iam::123456789012:role/NoSuchRole")
    monkeypatch.setenv("IOT_REGISTRATION_MODE", "bulk")
    rc = commands.doctor(args("doctor", "--count", "2", "--fleet-dir", str(tmp_path / "f")))
    out = capsys.readouterr().out
    assert rc == 1
    assert "FAIL  PIPELINE_ROLE_ARN: arn:aws:iam::123456789012:role/NoSuchRole" in out
    assert "FAIL  bulk registration: IOT_REGISTRATION_MODE=bulk needs IOT_BULK_BUCKET" in out
    assert "problem(s) would stop the run" in out


def test_taken_policy_name_and_large_fleet_warn(aws_env, iot, monkeypatch, capsys, tmp_path: Path) -> None:
    iot.create_policy(policyName="weather-fleet-station", policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}))
    monkeypatch.setenv("PIPELINE_ROLE_ARN", lab_role())
    # No ISD files: each station's rate is the pacing's (1 msg/s), whatever DATA_DIR the environment names.
    (tmp_path / "no-data").mkdir()
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "no-data"))
    rc = commands.doctor(args("doctor", "--count", "3000", "--fleet-dir", str(tmp_path / "f")))
    out = capsys.readouterr().out
    assert rc == 0  # warnings only
    assert "WARN  fleet names: IoT policy weather-fleet-station exists" in out
    assert "WARN  message rate: 3000 station(s) at 3,000.0 msg/s exceed one Firehose stream" in out
    assert "WARN  connects: 3000 stations connecting at once exceed 500 connects/s" in out


def test_expired_credentials_stop_at_once(aws_env, capsys, tmp_path: Path) -> None:
    session = boto3.Session()
    doctor = Doctor(AwsSettings(), 1, "ws", None, session)
    sts = doctor.client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the "
                              "request is expired", 403)
        checks = doctor.run()
    assert [c.status for c in checks] == [Status.OK, Status.FAIL]
    assert "session token has expired" in checks[1].detail and "AWS_SESSION_TOKEN" in checks[1].detail


def test_service_quotas_are_read_when_the_account_answers(aws_env, tmp_path: Path) -> None:
    doctor = Doctor(AwsSettings(), 1, "ws", None, boto3.Session())
    sq = doctor.client("service-quotas")
    with Stubber(sq) as stub:
        stub.add_response("list_service_quotas", {"Quotas": [
            {"QuotaName": "Connect requests per second per account", "Value": 1000.0},
            {"QuotaName": "Inbound publish requests per second per account", "Value": 50000.0}]},
            {"ServiceCode": "iot"})
        values, source = doctor.quotas()
    assert values == {"connect requests per second per account": 1000.0,
                      "inbound publish requests per second per account": 50000.0}
    assert source == "Service Quotas (this account)"


def test_role_check_warns_when_it_cannot_simulate(aws_env, monkeypatch, capsys, tmp_path: Path) -> None:
    """PIPELINE_ROLE_ARN unset: whether roles may be created is asked with iam:SimulatePrincipalPolicy, which
    moto does not answer (nor AWS Academy, usually): a warning naming the fix, not a failure."""
    monkeypatch.delenv("PIPELINE_ROLE_ARN", raising=False)
    rc = commands.doctor(args("doctor", "--count", "1", "--fleet-dir", str(tmp_path / "f")))
    out = capsys.readouterr().out
    assert rc == 0
    assert "WARN  PIPELINE_ROLE_ARN: unset" in out and "PIPELINE_ROLE_ARN=<LabRole ARN>" in out


def test_academy_credentials_that_may_not_create_roles_fail(aws_env, monkeypatch) -> None:
    monkeypatch.delenv("PIPELINE_ROLE_ARN", raising=False)
    doctor = Doctor(AwsSettings(), 1, "ws", None, boto3.Session())
    doctor.caller_arn = "arn:aws:sts::123456789012:assumed-role/voclabs/user123"
    iam = doctor.client("iam")
    with Stubber(iam) as stub:
        stub.add_response("simulate_principal_policy", {"EvaluationResults": [
            {"EvalActionName": "iam:CreateRole", "EvalDecision": "explicitDeny"},
            {"EvalActionName": "iam:PutRolePolicy", "EvalDecision": "allowed"}]},
            {"PolicySourceArn": "arn:aws:iam::123456789012:role/voclabs",
             "ActionNames": ["iam:CreateRole", "iam:PutRolePolicy"]})
        check = doctor.check_pipeline_role()
    assert check.status is Status.FAIL
    assert "iam:CreateRole is denied" in check.detail and "PIPELINE_ROLE_ARN=<LabRole ARN>" in check.detail


def test_bulk_bucket_head_403_names_the_missing_permission(aws_env, tmp_path: Path, monkeypatch) -> None:
    """A HEAD answer has no body: AWS's 403 for a missing s3:ListBucket reaches botocore as code "403"
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html); moto never answers so, hence a Stubber."""
    monkeypatch.setenv("IOT_REGISTRATION_MODE", "bulk")
    monkeypatch.setenv("IOT_BULK_BUCKET", "lab-bucket")
    monkeypatch.setenv("IOT_BULK_ROLE_ARN", lab_role())
    doctor = Doctor(AwsSettings(), 1, "ws", None, boto3.Session())
    with Stubber(doctor.client("s3")) as stub:
        stub.add_client_error("head_bucket", service_error_code="403", service_message="Forbidden",
                              http_status_code=403, expected_params={"Bucket": "lab-bucket"})
        bucket, _role = doctor.check_bulk()
    assert bucket.status is Status.FAIL
    assert bucket.detail.startswith("s3:HeadBucket on s3://lab-bucket answered 403 Forbidden")
    assert "lack s3:ListBucket on arn:aws:s3:::lab-bucket" in bucket.detail and "IOT_BULK_BUCKET" in bucket.detail


def test_an_expired_sso_login_says_aws_sso_login(aws_env, tmp_path: Path, monkeypatch) -> None:
    from botocore.exceptions import UnauthorizedSSOTokenError

    settings = AwsSettings().model_copy(update={"profile": "lab"})
    doctor = Doctor(settings, 1, "ws", None, boto3.Session())

    def expired() -> None:
        raise UnauthorizedSSOTokenError()

    _, problem = doctor._call("iot", "IoT endpoint", expired)
    assert problem is not None and problem.status is Status.FAIL
    assert problem.detail.endswith("run `aws sso login --profile lab`, then run again"), problem.detail
