"""Deploying against moto when things are not as the stack left them: drift, deletions by hand, given roles and
buckets, names taken by foreign resources, dry runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.stub import ANY

from pipeline.aws.errors import ConflictError
from pipeline.queries import QUERY_NAMES, load_rule
from tests.support.pipeline_aws import (
    ACCOUNT,
    DATABASE,
    LAKE,
    REGION,
    SETTINGS,
    STREAM,
    TABLE,
    CallLog,
    OperationStubber,
    aws,
    client,
    make_stack,
    state_path,
    tags_of,
)

__all__ = ["aws", "state_path"]


@pytest.fixture
def deployed(aws: None, state_path: Path):
    """A fresh deployment for tests that change things."""
    stack = make_stack(state_path, **SETTINGS)
    return stack, stack.deploy()


def test_drift_is_repaired_and_only_the_drifted_resources_touched(deployed, state_path: Path) -> None:
    firehose, iot = client("firehose"), client("iot")
    description = firehose.describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"]
    firehose.update_destination(
        DeliveryStreamName=STREAM, CurrentDeliveryStreamVersionId=description["VersionId"],
        DestinationId=description["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 900}})
    rule = iot.get_topic_rule(ruleName="weather_fleet_cold_readings")["rule"]
    iot.replace_topic_rule(ruleName="weather_fleet_cold_readings", topicRulePayload={
        "sql": "SELECT * FROM 'sensor/weather'", "actions": rule["actions"], "awsIotSqlVersion": "2016-03-23"})

    stack = make_stack(state_path, **SETTINGS)
    log = CallLog(stack.clients)
    updated = {(c.kind, c.name) for c in stack.deploy() if c.action == "update"}
    assert updated == {("firehose-delivery-stream", STREAM), ("iot-topic-rule", "weather_fleet_cold_readings")}
    assert sorted(log.mutating()) == ["firehose:UpdateDestination", "iot:ReplaceTopicRule"]
    destination = firehose.describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"][
        "Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BufferingHints"] == {"SizeInMBs": 3, "IntervalInSeconds": 120}
    assert iot.get_topic_rule(ruleName="weather_fleet_cold_readings")["rule"]["sql"] == load_rule("cold_readings")


def test_a_resource_deleted_by_hand_is_recreated(deployed, state_path: Path) -> None:
    client("dynamodb").delete_table(TableName=TABLE)
    changes = make_stack(state_path, **SETTINGS).deploy()
    assert [(c.action, c.name) for c in changes if c.action != "unchanged"] == [("create", TABLE)]
    assert client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_dry_run_plans_without_changing_anything(aws: None, state_path: Path) -> None:
    stack = make_stack(state_path)
    log = CallLog(stack.clients)
    changes = stack.deploy(dry_run=True)
    assert {c.action for c in changes} == {"create"} and len(changes) == 13 + len(QUERY_NAMES)
    assert log.mutating() == []
    assert not state_path.exists()
    assert client("s3").list_buckets()["Buckets"] == []


def test_given_role_is_used_everywhere_and_no_role_is_created(aws: None, state_path: Path) -> None:
    lab_role = f"arn:aws:iam::{ACCOUNT}:role/LabRole"
    stack = make_stack(state_path, PIPELINE_ROLE_ARN=lab_role)
    log = CallLog(stack.clients)
    stack.deploy()
    assert not [op for op in log.operations() if op.startswith("iam:")]
    assert client("iam").list_roles()["Roles"] == []
    firehose = client("firehose").describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"]
    assert firehose["Destinations"][0]["ExtendedS3DestinationDescription"]["RoleARN"] == lab_role
    for rule_name in ("weather_fleet_to_lake", "weather_fleet_cold_readings"):
        (action,) = client("iot").get_topic_rule(ruleName=rule_name)["rule"]["actions"]
        assert next(iter(action.values()))["roleArn"] == lab_role
    assert client("glue").get_crawler(Name="weather-fleet-lake")["Crawler"]["Role"] == lab_role


def test_switching_to_a_given_role_removes_the_roles_the_stack_made(deployed, state_path: Path) -> None:
    lab_role = f"arn:aws:iam::{ACCOUNT}:role/LabRole"
    stack = make_stack(state_path, **SETTINGS, PIPELINE_ROLE_ARN=lab_role)
    # moto has no glue UpdateCrawler: that one call is answered by a Stubber, which checks what is sent.
    with OperationStubber(stack.clients.glue, "UpdateCrawler") as stubber:
        stubber.add_response("update_crawler", {}, {
            "Name": "weather-fleet-lake", "Role": lab_role, "DatabaseName": DATABASE, "Description": ANY,
            "Targets": {"S3Targets": [{"Path": f"s3://{LAKE}/sensor/weather/", "SampleSize": 10}]},
            "RecrawlPolicy": ANY, "SchemaChangePolicy": ANY, "Configuration": ANY})
        changes = stack.deploy()
        stubber.assert_no_pending_responses()
    updated = sorted(c.name for c in changes if c.action == "update")
    assert updated == ["weather-fleet-lake", "weather-fleet-lake", "weather_fleet_cold_readings",
                       "weather_fleet_quarantine", "weather_fleet_to_lake"]  # the stream and the crawler share a name
    assert sorted(c.name for c in changes if c.action == "remove") == [
        "weather-fleet-firehose", "weather-fleet-glue-crawler", "weather-fleet-iot-rules"]
    assert client("iam").list_roles()["Roles"] == []
    assert not [r for r in json.loads(state_path.read_text())["resources"] if r["kind"] == "iam-role"]


def test_name_taken_by_a_foreign_resource_stops_before_creating_anything(aws: None, state_path: Path) -> None:
    client("dynamodb").create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    with pytest.raises(ConflictError) as raised:
        make_stack(state_path).deploy()
    assert f"dynamodb-table {TABLE}" in str(raised.value) and "PIPELINE_STACK_NAME" in str(raised.value)
    assert "Nothing was changed" in str(raised.value)
    assert client("s3").list_buckets()["Buckets"] == []
    assert client("dynamodb").describe_table(TableName=TABLE)["Table"]["KeySchema"][0]["AttributeName"] == "id"
    assert not state_path.exists()


def test_an_existing_bucket_named_by_the_user_is_used_but_not_modified(aws: None, state_path: Path) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="my-lab-datalake", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_tagging(Bucket="my-lab-datalake", Tagging={"TagSet": [{"Key": "owner", "Value": "me"}]})
    stack = make_stack(state_path, PIPELINE_LAKE_BUCKET="my-lab-datalake")
    changes = {c.name: c.action for c in stack.deploy()}
    assert changes["my-lab-datalake"] == "use"
    assert tags_of(s3.get_bucket_tagging(Bucket="my-lab-datalake")["TagSet"]) == {"owner": "me"}
    crawler = client("glue").get_crawler(Name="weather-fleet-lake")["Crawler"]
    assert crawler["Targets"]["S3Targets"][0]["Path"] == "s3://my-lab-datalake/sensor/weather/"
    record = next(r for r in json.loads(state_path.read_text())["resources"] if r["name"] == "my-lab-datalake")
    assert record["created"] is False
    again = make_stack(state_path, PIPELINE_LAKE_BUCKET="my-lab-datalake")
    assert {c.action for c in again.deploy() if c.name == "my-lab-datalake"} == {"use"}


def test_other_stack_names_give_other_resources(aws: None, state_path: Path, tmp_path: Path) -> None:
    make_stack(state_path).deploy()
    other = make_stack(tmp_path / "other.json", PIPELINE_STACK_NAME="lab-two")
    assert {c.action for c in other.deploy()} == {"create"}
    assert client("iot").get_topic_rule(ruleName="lab_two_cold_readings")["rule"]["actions"][0]["dynamoDBv2"][
        "putItem"] == {"tableName": "lab-two-cold-readings"}


def test_a_named_query_saved_but_not_recorded_is_found_not_duplicated(deployed, state_path: Path) -> None:
    """A run that stopped between CreateNamedQuery and writing the state file: the next deploy recovers the id."""
    state = json.loads(state_path.read_text())
    (lost,) = [r for r in state["resources"] if r["name"] == "preview"]
    state["resources"].remove(lost)
    state_path.write_text(json.dumps(state))

    planner = make_stack(state_path, **SETTINGS)
    assert {c.name: c.action for c in planner.deploy(dry_run=True)}["preview"] == "unchanged"
    assert "preview" not in state_path.read_text()  # a dry run records nothing

    stack = make_stack(state_path, **SETTINGS)
    log = CallLog(stack.clients)
    assert {c.action for c in stack.deploy()} == {"unchanged"}
    assert log.mutating() == []
    (recovered,) = [r for r in json.loads(state_path.read_text())["resources"] if r["name"] == "preview"]
    assert recovered["id"] == lost["id"] and recovered["created"] is True
