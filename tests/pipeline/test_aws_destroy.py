"""Destroying the stack against moto removes exactly what deploy made; resources of the same kinds survive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from pipeline.aws.stack import PipelineStack
from tests.support.pipeline_aws import (
    ACCOUNT,
    DATABASE,
    LAKE,
    REGION,
    RESULTS,
    SETTINGS,
    STREAM,
    TABLE,
    WORKGROUP,
    CallLog,
    aws,
    client,
    make_settings,
    make_stack,
    state_path,
)

__all__ = ["aws", "state_path"]


def make_foreign_resources() -> dict[str, str]:
    """One resource of every kind the stack manages, made by someone else; returns the named query's id."""
    s3, iam, firehose = client("s3"), client("iam"), client("firehose")
    s3.create_bucket(Bucket="someone-elses-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="someone-elses-bucket", Key="keep/me.json", Body=b"{}")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": "firehose.amazonaws.com"}}]}
    iam.create_role(RoleName="LabRole", AssumeRolePolicyDocument=json.dumps(trust))
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/LabRole"
    firehose.create_delivery_stream(DeliveryStreamName="other-stream", ExtendedS3DestinationConfiguration={
        "RoleARN": role_arn, "BucketARN": "arn:aws:s3:::someone-elses-bucket"})
    client("dynamodb").create_table(
        TableName="other-table", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    client("iot").create_topic_rule(ruleName="other_rule", topicRulePayload={
        "sql": "SELECT * FROM 'other/topic'", "actions": [
            {"firehose": {"roleArn": role_arn, "deliveryStreamName": "other-stream"}}]})
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": "other_db"})
    glue.create_crawler(Name="other-crawler", Role=role_arn, DatabaseName="other_db",
                        Targets={"S3Targets": [{"Path": "s3://someone-elses-bucket/keep/"}]})
    athena = client("athena")
    athena.create_work_group(Name="other-wg", Configuration={
        "ResultConfiguration": {"OutputLocation": "s3://someone-elses-bucket/athena/"}})
    query_id = athena.create_named_query(Name="preview", Database="other_db", QueryString="SELECT 1",
                                         WorkGroup="other-wg")["NamedQueryId"]
    return {"named_query": query_id}


def assert_foreign_resources_survive(query_id: str) -> None:
    s3 = client("s3")
    assert s3.get_object(Bucket="someone-elses-bucket", Key="keep/me.json")["Body"].read() == b"{}"
    assert client("iam").get_role(RoleName="LabRole")["Role"]["RoleName"] == "LabRole"
    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == ["other-stream"]
    assert client("dynamodb").list_tables()["TableNames"] == ["other-table"]
    assert [r["ruleName"] for r in client("iot").list_topic_rules()["rules"]] == ["other_rule"]
    assert [d["Name"] for d in client("glue").get_databases()["DatabaseList"]] == ["other_db"]
    assert client("glue").list_crawlers()["CrawlerNames"] == ["other-crawler"]
    workgroups = {w["Name"] for w in client("athena").list_work_groups()["WorkGroups"]}
    assert workgroups == {"primary", "other-wg"}
    named = client("athena").get_named_query(NamedQueryId=query_id)["NamedQuery"]
    assert (named["Name"], named["WorkGroup"]) == ("preview", "other-wg")


def assert_stack_gone() -> None:
    s3 = client("s3")
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert LAKE not in buckets and RESULTS not in buckets
    roles = {r["RoleName"] for r in client("iam").list_roles()["Roles"]}
    assert not {r for r in roles if r.startswith("weather-fleet-")}
    assert STREAM not in client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    assert TABLE not in client("dynamodb").list_tables()["TableNames"]
    assert not [r for r in client("iot").list_topic_rules()["rules"] if r["ruleName"].startswith("weather_fleet")]
    assert DATABASE not in [d["Name"] for d in client("glue").get_databases()["DatabaseList"]]
    assert "weather-fleet-lake" not in client("glue").list_crawlers()["CrawlerNames"]
    assert WORKGROUP not in {w["Name"] for w in client("athena").list_work_groups()["WorkGroups"]}


def test_destroy_removes_exactly_what_deploy_made(aws: None, state_path: Path) -> None:
    foreign = make_foreign_resources()
    make_stack(state_path, **SETTINGS).deploy()
    # Data the pipeline wrote meanwhile: objects in the lake (versioned or not) and Athena results.
    client("s3").put_object(Bucket=LAKE, Key="sensor/weather/2026/01/01/00/part-1.gz", Body=b"x")
    client("s3").put_object(Bucket=RESULTS, Key="results/abc.csv", Body=b"y")

    stack = make_stack(state_path, **SETTINGS)
    log = CallLog(stack.clients)
    changes = stack.destroy()

    assert_stack_gone()
    assert_foreign_resources_survive(foreign["named_query"])
    assert {c.action for c in changes} == {"delete"}
    assert not state_path.exists()
    # The workgroup goes with its named queries (RecursiveDeleteOption), so no query is deleted one by one.
    assert log.params("DeleteWorkGroup") == [{"WorkGroup": WORKGROUP, "RecursiveDeleteOption": True}]
    assert log.params("DeleteNamedQuery") == []
    deleted = [op for op in log.mutating() if op.split(":")[1].startswith("Delete")]
    assert "s3:DeleteObjects" in deleted and deleted[-1] == "s3:DeleteBucket"

    # Nothing left behind blocks a new deployment under the same names.
    assert {c.action for c in make_stack(state_path, **SETTINGS).deploy()} == {"create"}


def test_destroy_dry_run_deletes_nothing(aws: None, state_path: Path) -> None:
    first = make_stack(state_path, **SETTINGS).deploy()
    before = state_path.read_bytes()
    stack = make_stack(state_path, **SETTINGS)
    log = CallLog(stack.clients)
    planned = stack.destroy(dry_run=True)
    assert [(c.kind, c.name) for c in planned] == [(c.kind, c.name) for c in reversed(first)]
    assert log.mutating() == []
    assert state_path.read_bytes() == before
    assert client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_destroy_with_no_state_touches_nothing(aws: None, state_path: Path, tmp_path: Path) -> None:
    make_stack(state_path, **SETTINGS).deploy()
    stranger = make_stack(tmp_path / "empty.json", **SETTINGS)
    log = CallLog(stranger.clients)
    assert stranger.destroy() == []
    assert log.operations() == []
    assert client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_destroy_keeps_a_bucket_it_did_not_create(aws: None, state_path: Path) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="my-lab-datalake", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="my-lab-datalake", Key="sensor/weather/old.gz", Body=b"old")
    make_stack(state_path, PIPELINE_LAKE_BUCKET="my-lab-datalake").deploy()
    changes = {c.name: c.action for c in make_stack(state_path, PIPELINE_LAKE_BUCKET="my-lab-datalake").destroy()}
    assert changes["my-lab-datalake"] == "keep"
    assert s3.get_object(Bucket="my-lab-datalake", Key="sensor/weather/old.gz")["Body"].read() == b"old"
    assert RESULTS not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not state_path.exists()


def test_destroy_copes_with_resources_already_deleted_by_hand(aws: None, state_path: Path) -> None:
    make_stack(state_path, **SETTINGS).deploy()
    client("iot").delete_topic_rule(ruleName="weather_fleet_to_lake")
    client("dynamodb").delete_table(TableName=TABLE)
    changes = {c.name: c.action for c in make_stack(state_path, **SETTINGS).destroy()}
    assert changes["weather_fleet_to_lake"] == "absent" and changes[TABLE] == "absent"
    assert_stack_gone()
    assert not state_path.exists()


def test_a_deploy_that_fails_half_way_is_recorded_and_destroyed(aws: None, state_path: Path) -> None:
    stack = make_stack(state_path, **SETTINGS)

    def refuse(**_: object) -> None:
        raise ClientError({"Error": {"Code": "LimitExceededException", "Message": "too many rules"}},
                          "CreateTopicRule")

    stack.clients.iot.meta.events.register("before-call.iot.CreateTopicRule", refuse)
    with pytest.raises(ClientError, match="too many rules"):
        stack.deploy()
    recorded = [(r["kind"], r["name"]) for r in json.loads(state_path.read_text())["resources"]]
    assert recorded[-1] == ("dynamodb-table", TABLE) and ("s3-bucket", LAKE) in recorded
    assert len(recorded) == 7  # two buckets, three roles, the stream, the table

    changes = make_stack(state_path, **SETTINGS).destroy()
    assert [(c.kind, c.name) for c in changes] == list(reversed(recorded))
    assert_stack_gone()


def test_destroy_stops_a_running_crawler_before_deleting_it(aws: None, state_path: Path) -> None:
    from moto.moto_api import state_manager

    make_stack(state_path, **SETTINGS).deploy()
    # moto's state manager keeps the crawl RUNNING until StopCrawler, after which it lets it finish stopping.
    state_manager.set_transition(model_name="glue::crawl", transition={"progression": "manual", "times": 10**6})
    try:
        client("glue").start_crawler(Name="weather-fleet-lake")
        stack = PipelineStack(make_settings(state_path, **SETTINGS), wait=0.05)
        stack.clients.glue.meta.events.register("after-call.glue.StopCrawler", lambda **_: state_manager.set_transition(
            model_name="glue::crawl", transition={"progression": "immediate"}))
        log = CallLog(stack.clients)
        stack.destroy()
    finally:
        state_manager.unset_transition(model_name="glue::crawl")
    glue_calls = [op for op in log.mutating() if op.startswith("glue:")]
    assert glue_calls == ["glue:StopCrawler", "glue:DeleteCrawler", "glue:DeleteDatabase"]
    assert_stack_gone()
