"""AWS refusals (denied, unrecognised or expired credentials) are one line naming the action, the resource and
the fix; exit 1; what was created before the refusal is recorded, so destroy removes it (moto allows everything,
so the refusals are injected with botocore's `before-call` event, the answer AWS gives)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.awsrequest import AWSResponse

import pipeline.aws.stack as stack_module
from pipeline.aws.__main__ import main
from pipeline.aws.errors import AccessError
from pipeline.aws.session import connect
from tests.support.pipeline_aws import ACCOUNT, LAKE, RESULTS, SETTINGS, aws, client, make_settings, make_stack, state_path

__all__ = ["aws", "state_path"]


def refuse(client_, operation: str, code: str, message: str, status: int = 403) -> None:
    """Make `client_` answer `operation` with AWS's error (the request never reaches moto)."""
    def answer(**_):
        body = json.dumps({"__type": code, "message": message, "Error": {"Code": code, "Message": message}})
        headers = {"x-amzn-ErrorType": code, "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse("https://aws", status, headers, _Raw(body.encode())), {
            "Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    client_.meta.events.register(f"before-call.*.{operation}", answer)


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


def test_denied_create_role_is_one_line_and_destroy_removes_the_buckets(aws: None, state_path: Path) -> None:
    """AWS Academy: iam:CreateRole is denied after the buckets were made."""
    stack = make_stack(state_path, **SETTINGS)
    refuse(stack.clients.iam, "CreateRole", "AccessDenied",
           f"User: arn:aws:sts::{ACCOUNT}:assumed-role/voclabs/user is not authorized to perform: iam:CreateRole")
    with pytest.raises(AccessError) as raised:
        stack.deploy()
    line = str(raised.value)
    assert "\n" not in line
    assert "iam:CreateRole" in line and "weather-fleet-iot-rules" in line
    assert "PIPELINE_ROLE_ARN=<LabRole ARN>" in line and "make pipeline-down TARGET=aws" in line
    recorded = {(r["kind"], r["name"]) for r in json.loads(state_path.read_text())["resources"]}
    assert recorded == {("s3-bucket", LAKE), ("s3-bucket", RESULTS)}

    make_stack(state_path, **SETTINGS).destroy()
    buckets = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert not buckets & {LAKE, RESULTS} and not state_path.exists()


def test_a_creation_refused_half_way_is_recorded(aws: None, state_path: Path) -> None:
    """CreateBucket succeeds, PutPublicAccessBlock is denied: the bucket exists, so it is recorded."""
    stack = make_stack(state_path, **SETTINGS)
    refuse(stack.clients.s3, "PutPublicAccessBlock", "AccessDenied", "Access Denied")
    with pytest.raises(AccessError, match="s3:PutPublicAccessBlock on s3-bucket " + LAKE):
        stack.deploy()
    (record,) = json.loads(state_path.read_text())["resources"]
    assert (record["kind"], record["name"], record["created"]) == ("s3-bucket", LAKE, True)
    make_stack(state_path, **SETTINGS).destroy()
    assert LAKE not in {b["Name"] for b in client("s3").list_buckets()["Buckets"]}


@pytest.mark.parametrize(("code", "expected"), [
    ("UnrecognizedClientException", "does not recognise these credentials"),
    ("ExpiredTokenException", "session token has expired"),
])
def test_bad_or_expired_credentials_exit_1_with_one_line(aws: None, state_path: Path, monkeypatch, capsys,
                                                         code: str, expected: str) -> None:
    monkeypatch.chdir(state_path.parent.parent if state_path.parent.exists() else Path.cwd())
    monkeypatch.setenv("PIPELINE_AWS_STATE", str(state_path))
    real_connect = connect

    def connect_then_refuse(settings):
        clients = real_connect(settings)
        refuse(clients.s3, "HeadBucket", code, "The security token included in the request is invalid", 400)
        return clients

    monkeypatch.setattr(stack_module, "connect", connect_then_refuse)
    assert main(["deploy"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "AWS_SESSION_TOKEN" in err[0] and "s3:HeadBucket" in err[0]
    assert not state_path.exists()  # nothing was created


def test_expired_token_at_sts_is_a_configuration_error(aws: None, state_path: Path, monkeypatch) -> None:
    import boto3

    real_client = boto3.Session.client

    def client_(self, service, *a, **k):
        c = real_client(self, service, *a, **k)
        if service == "sts":
            refuse(c, "GetCallerIdentity", "ExpiredToken", "The security token included in the request is expired")
        return c

    monkeypatch.setattr(boto3.Session, "client", client_)
    from pipeline.aws.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match="sts:GetCallerIdentity .*session token has expired"):
        connect(make_settings(state_path))
