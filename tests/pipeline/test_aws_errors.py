"""Clear errors before anything changes: no credentials, no region, bad settings, a foreign state file; and the
calls moto lacks (answered by a botocore Stubber for that call only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY

from pipeline.aws.__main__ import main
from pipeline.aws.errors import ConfigurationError, StateError
from pipeline.aws.resources import retry_while_role_propagates
from pipeline.aws.session import connect
from tests.support.pipeline_aws import (
    ACCOUNT,
    REGION,
    RESULTS,
    SETTINGS,
    WORKGROUP,
    OperationStubber,
    aws,
    client,
    make_settings,
    make_stack,
    state_path,
)

__all__ = ["aws", "state_path"]


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment where boto3 finds no credentials anywhere (and never asks the instance metadata service)."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.chdir(tmp_path)  # no .env of the repository


def test_no_credentials_is_a_clear_error(no_credentials: None, state_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        connect(make_settings(state_path))
    message = str(raised.value)
    assert "AWS_ACCESS_KEY_ID" in message and "AWS_SESSION_TOKEN" in message and "aws configure" in message


def test_cli_without_credentials_fails_and_keeps_the_state(
    no_credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"kept": true}')
    monkeypatch.setenv("PIPELINE_AWS_STATE", str(state))
    for command in (["deploy"], ["destroy"], ["status"], ["deploy", "--dry-run"]):
        assert main(command) == 2  # missing credentials: a configuration error, as for provisioning.aws
        assert "no AWS credentials" in capsys.readouterr().err
    assert state.read_text() == '{"kept": true}'


def test_no_region_is_a_clear_error(no_credentials: None, state_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        connect(make_settings(state_path))


@pytest.mark.parametrize(("variable", "value"), [
    ("PIPELINE_ROLE_ARN", "LabRole"),
    ("PIPELINE_STACK_NAME", "Weather_Fleet"),
    ("FIREHOSE_BUFFER_MB", "500"),
    ("FIREHOSE_BUFFER_SECONDS", "-1"),
    ("PIPELINE_LAKE_BUCKET", "Not_A_Bucket"),
    ("TOPIC", "sensor/#"),
    ("PIPELINE_TAGS", "not json"),
])
def test_invalid_settings_name_the_variable(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main(["deploy"]) == 2
    assert variable in capsys.readouterr().err


def test_state_file_of_another_region_is_refused(aws: None, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    other = {"version": 1, "stack": "weather-fleet", "account_id": ACCOUNT, "region": "us-east-1",
             "resources": [{"kind": "dynamodb-table", "name": "weather-fleet-cold-readings", "created": True}]}
    state_path.write_text(json.dumps(other))
    with pytest.raises(StateError, match="us-east-1"):
        make_stack(state_path)
    assert json.loads(state_path.read_text()) == other


def test_unreadable_state_file_is_refused(aws: None, state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        make_stack(state_path)


# --- calls moto does not implement: answered by a Stubber for that operation only ------------------------------
def test_changed_query_text_updates_the_named_query(aws: None, state_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    make_stack(state_path, **SETTINGS).deploy()
    recorded = {r["name"]: r["id"] for r in json.loads(state_path.read_text())["resources"]
                if r["kind"] == "athena-named-query"}
    import pipeline.aws.stack as stack_module

    original = stack_module.load_query
    monkeypatch.setattr(stack_module, "load_query",
                        lambda name, *a, **k: original(name, *a, **k).replace("LIMIT 10", "LIMIT 20"))
    stack = make_stack(state_path, **SETTINGS)
    with OperationStubber(stack.clients.athena, "UpdateNamedQuery") as stubber:
        stubber.add_response("update_named_query", {}, {
            "NamedQueryId": recorded["preview"], "Name": "preview", "Description": ANY,
            "QueryString": original("preview", "athena", database="weather_fleet").replace("LIMIT 10", "LIMIT 20"),
        })
        changes = stack.deploy()
        stubber.assert_no_pending_responses()
    assert [(c.action, c.name) for c in changes if c.action != "unchanged"] == [("update", "preview")]


def test_new_results_bucket_moves_the_workgroup_output_and_removes_the_old_bucket(aws: None,
                                                                                  state_path: Path) -> None:
    make_stack(state_path, **SETTINGS).deploy()
    stack = make_stack(state_path, **SETTINGS, PIPELINE_ATHENA_RESULTS_BUCKET="new-athena-results")
    with OperationStubber(stack.clients.athena, "UpdateWorkGroup") as stubber:
        stubber.add_response("update_work_group", {}, {
            "WorkGroup": WORKGROUP, "Description": ANY, "ConfigurationUpdates": {
                "ResultConfigurationUpdates": {"OutputLocation": "s3://new-athena-results/results/"},
                "EnforceWorkGroupConfiguration": True, "PublishCloudWatchMetricsEnabled": False}})
        changes = stack.deploy()
        stubber.assert_no_pending_responses()
    actions = {(c.action, c.name) for c in changes if c.action != "unchanged"}
    assert actions == {("create", "new-athena-results"), ("update", WORKGROUP), ("remove", RESULTS)}
    buckets = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert "new-athena-results" in buckets and RESULTS not in buckets


# --- IAM eventual consistency ------------------------------------------------------------------------------------
def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateDeliveryStream")


def test_calls_are_retried_while_a_new_role_is_not_yet_assumable() -> None:
    outcomes: list[object] = [
        _client_error("InvalidArgumentException", "Firehose is unable to assume role arn:aws:iam::1:role/x"),
        _client_error("InvalidRequestException", "iot.amazonaws.com is unable to perform: sts:AssumeRole"),
        "created",
    ]

    def call() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retry_while_role_propagates(call, attempts=5, delay=0) == "created"
    assert outcomes == []


def test_other_errors_and_the_last_attempt_are_not_retried() -> None:
    calls = []

    def refused() -> None:
        calls.append(1)
        raise _client_error("LimitExceededException", "too many delivery streams")

    with pytest.raises(ClientError, match="too many"):
        retry_while_role_propagates(refused, attempts=5, delay=0)
    assert len(calls) == 1

    def never_assumable() -> None:
        calls.append(1)
        raise _client_error("InvalidInputException", "Service is unable to assume provided role")

    calls.clear()
    with pytest.raises(ClientError, match="assume"):
        retry_while_role_propagates(never_assumable, attempts=3, delay=0)
    assert len(calls) == 3
