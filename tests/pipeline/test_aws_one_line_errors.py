"""One line for the refusals moto never produces (issue 23): S3's bodiless HEAD 403, S3 `InvalidToken`, and
failures before AWS answers (an SSO or token-provider login that expired), each naming what to run or grant."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import (
    ClientError, EndpointConnectionError, NoCredentialsError, SSOTokenLoadError, TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.stub import Stubber

from fleetcore.aws_errors import botocore_line, explain, head_forbidden
from pipeline.aws.errors import AccessError, ConflictError
from pipeline.aws.resources import Bucket
from tests.support.pipeline_aws import LAKE, aws, make_stack, state_path

__all__ = ["aws", "state_path"]


def test_a_head_bucket_403_names_the_missing_permission(aws: None, state_path: Path) -> None:
    """moto answers HeadBucket 404 or 200; AWS answers a bare 403 (a HEAD response has no body, so no error
    code: https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html) when s3:ListBucket is missing
    or the bucket is another account's. Stubbed as botocore parses it: code "403", message "Forbidden"."""
    stack = make_stack(state_path)
    bucket = next(r for r in stack.resources() if isinstance(r, Bucket) and r.name == LAKE)
    with Stubber(stack.clients.s3) as stub:
        stub.add_client_error("head_bucket", service_error_code="403", service_message="Forbidden",
                              http_status_code=403, expected_params={"Bucket": LAKE})
        with pytest.raises(ConflictError) as raised:
            bucket.read(None)
    line = str(raised.value)
    assert line == head_forbidden(LAKE, variable="PIPELINE_LAKE_BUCKET")
    assert "lack s3:ListBucket on arn:aws:s3:::" + LAKE in line and "set PIPELINE_LAKE_BUCKET" in line
    assert "\n" not in line


def test_s3_invalid_token_is_an_unrecognised_credential() -> None:
    """https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList: InvalidToken, 400,
    "The provided token is malformed or otherwise invalid"."""
    exc = ClientError({"Error": {"Code": "InvalidToken",
                                 "Message": "The provided token is malformed or otherwise invalid."}}, "PutObject")
    line = explain(exc, service="s3", resource="s3://lake", region="us-east-1")
    assert line == ("s3:PutObject on s3://lake in us-east-1: AWS does not recognise these credentials (InvalidToken): "
                    "copy fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (AWS Academy: "
                    "'AWS Details' on the lab page) into .env; check AWS_REGION too")


@pytest.mark.parametrize("exc", [
    UnauthorizedSSOTokenError(),
    SSOTokenLoadError(error_msg="Token for lab does not exist"),
    TokenRetrievalError(provider="sso", error_msg="the SSO session has expired"),
])
def test_sso_and_token_failures_say_aws_sso_login(exc: Exception) -> None:
    line = botocore_line(exc, service="IoT", region="us-east-1", profile="lab")
    assert line.startswith(f"the AWS SSO / token login for IoT failed or expired ({type(exc).__name__}: ")
    assert line.endswith("run `aws sso login --profile lab`, then run again")
    assert "cannot reach" not in line


def test_no_credentials_and_no_network_are_told_apart() -> None:
    assert "AWS_SESSION_TOKEN" in botocore_line(NoCredentialsError(), service="STS")
    line = botocore_line(EndpointConnectionError(endpoint_url="https://iot.us-east-1.amazonaws.com"),
                         service="IoT", region="us-east-1")
    assert line.startswith("cannot reach AWS IoT in us-east-1 (EndpointConnectionError: ")
    assert line.endswith("check the network and AWS_ENDPOINT_URL")


def test_a_token_failure_mid_deploy_is_one_line(aws: None, state_path: Path, monkeypatch) -> None:
    stack = make_stack(state_path)
    monkeypatch.setattr(type(stack.clients.s3), "head_bucket",
                        lambda *a, **k: (_ for _ in ()).throw(UnauthorizedSSOTokenError()), raising=False)
    with pytest.raises(AccessError) as raised:
        stack.deploy()
    assert "aws sso login" in str(raised.value) and "\n" not in str(raised.value)
