"""Deploying the pipeline stack against moto: every resource with the lab's configuration, idempotent, tagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.aws.errors import ConflictError
from pipeline.aws.names import TAG_STACK
from pipeline.queries import QUERY_NAMES, load_query, load_rule
from tests.pipeline.aws_support import (
    ACCOUNT,
    ANY,
    REGION,
    CallLog,
    OperationStubber,
    aws,
    client,
    make_stack,
    state_path,
)

__all__ = ["aws", "state_path"]

LAKE = f"weather-fleet-lake-{ACCOUNT}-{REGION}"
RESULTS = f"weather-fleet-athena-{ACCOUNT}-{REGION}"
STREAM = "weather-fleet-lake"
TABLE = "weather-fleet-cold-readings"
DATABASE = "weather_fleet"
WORKGROUP = "weather-fleet"
EXPECTED_TAGS = {TAG_STACK: "weather-fleet", "managed-by": "weather-fleet", "course": "iot-lab"}


def tags_of(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


@pytest.fixture
def deployed(aws: None, state_path: Path):
    stack = make_stack(state_path, FIREHOSE_BUFFER_MB=3, FIREHOSE_BUFFER_SECONDS=120,
                       PIPELINE_TAGS={"course": "iot-lab"})
    changes = stack.deploy()
    return stack, changes


def test_first_deploy_creates_every_resource(deployed) -> None:
    stack, changes = deployed
    assert {c.action for c in changes} == {"create"}
    kinds = [c.kind for c in changes]
    assert kinds.count("s3-bucket") == 2 and kinds.count("iam-role") == 3 and kinds.count("iot-topic-rule") == 2
    assert kinds.count("athena-named-query") == len(QUERY_NAMES)


def test_buckets_are_private_and_tagged(deployed) -> None:
    s3 = client("s3")
    for bucket in (LAKE, RESULTS):
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        assert tags_of(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == EXPECTED_TAGS


def test_firehose_writes_gzip_to_the_lake_with_buffering_date_and_error_prefixes(deployed) -> None:
    description = client("firehose").describe_delivery_stream(DeliveryStreamName=STREAM)["DeliveryStreamDescription"]
    assert description["DeliveryStreamType"] == "DirectPut"
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == f"arn:aws:s3:::{LAKE}"
    assert destination["BufferingHints"] == {"SizeInMBs": 3, "IntervalInSeconds": 120}
    assert destination["Prefix"] == "sensor/weather/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/"
    assert destination["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/!{timestamp:yyyy}/")
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["RoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-firehose"
    tags = client("firehose").list_tags_for_delivery_stream(DeliveryStreamName=STREAM)["Tags"]
    assert tags_of(tags) == EXPECTED_TAGS


def test_lake_rule_forwards_every_message_to_firehose_with_newline_separator(deployed) -> None:
    rule = client("iot").get_topic_rule(ruleName="weather_fleet_to_lake")["rule"]
    assert rule["sql"] == "SELECT * FROM 'sensor/weather'"
    assert rule["awsIotSqlVersion"] == "2016-03-23" and rule["ruleDisabled"] is False
    assert rule["actions"] == [{"firehose": {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-iot-rules",
        "deliveryStreamName": STREAM,
        "separator": "\n",
    }}]


def test_cold_readings_rule_has_the_labs_sql_and_puts_into_the_table(deployed) -> None:
    rule = client("iot").get_topic_rule(ruleName="weather_fleet_cold_readings")["rule"]
    assert rule["sql"] == load_rule("cold_readings", "iot", topic="sensor/weather")
    # What the lab asks for, checked on the text AWS received rather than trusted from the loader.
    sql = rule["sql"]
    assert sql.startswith("SELECT weather_station, latitude, longitude, elevation, time,")
    for renamed in ("air_temperature.value AS air_temperature_value",
                    "air_temperature.quality AS air_temperature_quality", "wind_speed.value AS wind_speed_value"):
        assert renamed in sql
    assert "weather_condition, sky_cover_condition FROM 'sensor/weather'" in sql
    assert sql.endswith("WHERE air_temperature.value < -5")
    assert rule["actions"] == [{"dynamoDBv2": {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-iot-rules",
        "putItem": {"tableName": TABLE},
    }}]


def test_table_is_keyed_by_station_and_time(deployed) -> None:
    dynamodb = client("dynamodb")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "weather_station", "KeyType": "HASH"},
                                  {"AttributeName": "time", "KeyType": "RANGE"}]
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == [
        ("time", "S"), ("weather_station", "S")]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert tags_of(dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]) == EXPECTED_TAGS


def test_crawler_targets_the_lake_prefix_with_a_sample_of_ten_files(deployed) -> None:
    glue = client("glue")
    assert glue.get_database(Name=DATABASE)["Database"]["Name"] == DATABASE
    database_arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{DATABASE}"
    assert glue.get_tags(ResourceArn=database_arn)["Tags"] == EXPECTED_TAGS
    crawler = glue.get_crawler(Name="weather-fleet-lake")["Crawler"]
    assert crawler["Targets"]["S3Targets"] == [{"Path": f"s3://{LAKE}/sensor/weather/", "SampleSize": 10}]
    assert crawler["DatabaseName"] == DATABASE
    assert crawler["Role"] == f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-glue-crawler"
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"}
    partitions = json.loads(crawler["Configuration"])["CrawlerOutput"]["Partitions"]
    assert partitions == {"AddOrUpdateBehavior": "InheritFromTable"}  # the lab's HIVE_PARTITION_SCHEMA_MISMATCH fix
    assert "Schedule" not in crawler or not crawler["Schedule"]  # on demand, as in the lab
    crawler_arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:crawler/weather-fleet-lake"
    assert glue.get_tags(ResourceArn=crawler_arn)["Tags"] == EXPECTED_TAGS


def test_workgroup_writes_results_to_its_bucket_and_holds_the_labs_queries(deployed) -> None:
    athena = client("athena")
    workgroup = athena.get_work_group(WorkGroup=WORKGROUP)["WorkGroup"]
    configuration = workgroup["Configuration"]
    assert configuration["ResultConfiguration"]["OutputLocation"] == f"s3://{RESULTS}/results/"
    assert configuration["EnforceWorkGroupConfiguration"] is True
    arn = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/{WORKGROUP}"
    assert tags_of(athena.list_tags_for_resource(ResourceARN=arn)["Tags"]) == EXPECTED_TAGS

    ids = athena.list_named_queries(WorkGroup=WORKGROUP)["NamedQueryIds"]
    queries = {q["Name"]: q for q in (athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids)}
    assert sorted(queries) == sorted(QUERY_NAMES)
    for name, query in queries.items():
        assert query["Database"] == DATABASE and query["WorkGroup"] == WORKGROUP
        assert query["QueryString"] == load_query(name, "athena", database=DATABASE, table="weather",
                                                  flat_table="weather_flat")
        assert query["Description"]
    assert f'FROM "{DATABASE}"."weather"' in queries["temperature_by_station"]["QueryString"]
    flatten = queries["flatten"]["QueryString"]
    assert f'CREATE TABLE IF NOT EXISTS "{DATABASE}"."weather_flat" AS' in flatten
    assert "CROSS JOIN UNNEST(sky_cover_condition)" in flatten and "CROSS JOIN UNNEST(weather_condition)" in flatten


def test_created_roles_are_least_privilege(deployed) -> None:
    iam = client("iam")
    expected = {
        "weather-fleet-iot-rules": ("iot.amazonaws.com", {
            f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{STREAM}",
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"}),
        "weather-fleet-firehose": ("firehose.amazonaws.com", {f"arn:aws:s3:::{LAKE}", f"arn:aws:s3:::{LAKE}/*"}),
    }
    for role_name, (service, resources) in expected.items():
        role = iam.get_role(RoleName=role_name)["Role"]
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"Service": service}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        assert iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
        (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
        granted = set()
        for item in document["Statement"]:
            granted.update([item["Resource"]] if isinstance(item["Resource"], str) else item["Resource"])
            assert "*" not in item["Action"] and not any(a.endswith(":*") for a in item["Action"])
        assert granted == resources
        assert tags_of(iam.list_role_tags(RoleName=role_name)["Tags"]) == EXPECTED_TAGS
    crawler_policy = iam.get_role_policy(RoleName="weather-fleet-glue-crawler",
                                         PolicyName="weather-fleet-least-privilege")["PolicyDocument"]
    read = next(s for s in crawler_policy["Statement"] if s["Sid"] == "ReadLakePrefix")
    assert read["Resource"] == f"arn:aws:s3:::{LAKE}/sensor/weather/*"


def test_state_file_records_what_was_created(deployed, state_path: Path) -> None:
    stack, changes = deployed
    state = json.loads(state_path.read_text())
    assert (state["stack"], state["account_id"], state["region"]) == ("weather-fleet", ACCOUNT, REGION)
    assert [(r["kind"], r["name"]) for r in state["resources"]] == [(c.kind, c.name) for c in changes]
    assert all(r["created"] is True for r in state["resources"])
    ids = {r["name"]: r["id"] for r in state["resources"] if r["kind"] == "athena-named-query"}
    assert sorted(ids.values()) == sorted(client("athena").list_named_queries(WorkGroup=WORKGROUP)["NamedQueryIds"])


def test_second_deploy_changes_nothing(deployed, state_path: Path) -> None:
    before = state_path.read_bytes()
    again = make_stack(state_path, FIREHOSE_BUFFER_MB=3, FIREHOSE_BUFFER_SECONDS=120,
                       PIPELINE_TAGS={"course": "iot-lab"})
    log = CallLog(again.clients)
    changes = again.deploy()
    assert {c.action for c in changes} == {"unchanged"}
    assert len(changes) == len(deployed[1])
    assert log.operations(), "the second deploy must still look at every resource"
    assert log.mutating() == []
    assert state_path.read_bytes() == before


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

    stack = make_stack(state_path, FIREHOSE_BUFFER_MB=3, FIREHOSE_BUFFER_SECONDS=120,
                       PIPELINE_TAGS={"course": "iot-lab"})
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
    changes = make_stack(state_path, FIREHOSE_BUFFER_MB=3, FIREHOSE_BUFFER_SECONDS=120,
                         PIPELINE_TAGS={"course": "iot-lab"}).deploy()
    assert [(c.action, c.name) for c in changes if c.action != "unchanged"] == [("create", TABLE)]
    assert client("dynamodb").describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"


def test_dry_run_plans_without_changing_anything(aws: None, state_path: Path) -> None:
    stack = make_stack(state_path)
    log = CallLog(stack.clients)
    changes = stack.deploy(dry_run=True)
    assert {c.action for c in changes} == {"create"} and len(changes) == 12 + len(QUERY_NAMES)
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
    stack = make_stack(state_path, FIREHOSE_BUFFER_MB=3, FIREHOSE_BUFFER_SECONDS=120,
                       PIPELINE_TAGS={"course": "iot-lab"}, PIPELINE_ROLE_ARN=lab_role)
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
                       "weather_fleet_to_lake"]  # the stream and the crawler share a name
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
