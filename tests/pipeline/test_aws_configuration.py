"""One deployment against moto, checked read-only: every resource has the lab's configuration; a second deploy
changes nothing."""

from __future__ import annotations

import json

import pytest

from pipeline.queries import QUERY_NAMES, load_query, load_rule
from tests.support.pipeline_aws import (
    ACCOUNT,
    DATABASE,
    EXPECTED_TAGS,
    LAKE,
    REGION,
    RESULTS,
    SETTINGS,
    STREAM,
    TABLE,
    WORKGROUP,
    CallLog,
    aws_module,
    client,
    make_stack,
    tags_of,
)

__all__ = ["aws_module"]


@pytest.fixture(scope="module")
def shared(aws_module: None, tmp_path_factory: pytest.TempPathFactory):
    """One deployment checked by the read-only tests below."""
    path = tmp_path_factory.mktemp("shared") / "pipeline-aws.json"
    stack = make_stack(path, **SETTINGS)
    return stack, stack.deploy(), path


def test_first_deploy_creates_every_resource(shared) -> None:
    stack, changes, _ = shared
    assert {c.action for c in changes} == {"create"}
    kinds = [c.kind for c in changes]
    assert kinds.count("s3-bucket") == 2 and kinds.count("iam-role") == 3 and kinds.count("iot-topic-rule") == 3
    assert kinds.count("athena-named-query") == len(QUERY_NAMES)


def test_buckets_are_private_and_tagged(shared) -> None:
    s3 = client("s3")
    for bucket in (LAKE, RESULTS):
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        assert tags_of(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == EXPECTED_TAGS


def test_firehose_writes_gzip_to_the_lake_with_buffering_date_and_error_prefixes(shared) -> None:
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


def test_lake_rule_forwards_each_things_own_messages_with_their_publisher_to_firehose(shared) -> None:
    rule = client("iot").get_topic_rule(ruleName="weather_fleet_to_lake")["rule"]
    # clientid() is the authenticated thing (the IoT policy binds client id to thing name): it is delivered as
    # `publisher`, so the crawler's schema has the column, and a message naming another thing is not delivered.
    assert rule["sql"] == ("SELECT *, clientid() AS publisher, timestamp() AS received_at FROM 'sensor/weather' "
                           "WHERE thing_name = clientid()")
    assert rule["awsIotSqlVersion"] == "2016-03-23" and rule["ruleDisabled"] is False
    assert rule["actions"] == [{"firehose": {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-iot-rules",
        "deliveryStreamName": STREAM,
        "separator": "\n",
    }}]
    assert_error_action(rule, "weather_fleet_to_lake")


def assert_error_action(rule: dict, name: str) -> None:
    """A message the action could not deliver goes to the lake bucket's errors/ prefix, not nowhere."""
    assert rule["errorAction"] == {"s3": {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-iot-rules", "bucketName": LAKE,
        "key": f"errors/iot-rules/{name}/${{timestamp()}}-${{newuuid()}}.json"}}


def test_quarantine_rule_keeps_messages_naming_another_thing_under_the_quarantine_prefix(shared) -> None:
    rule = client("iot").get_topic_rule(ruleName="weather_fleet_quarantine")["rule"]
    # Exactly the complement of the lake rule, a message without thing_name included (Undefined compares false).
    assert rule["sql"] == ("SELECT *, clientid() AS publisher, timestamp() AS received_at FROM 'sensor/weather' "
                           "WHERE isUndefined(thing_name) OR thing_name <> clientid()")
    [action] = rule["actions"]
    assert action["s3"]["bucketName"] == LAKE
    assert action["s3"]["key"].startswith("quarantine/${topic()}/") and "${clientid()}" in action["s3"]["key"]
    assert action["s3"]["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-iot-rules"
    assert_error_action(rule, "weather_fleet_quarantine")
    policy = client("iam").get_role_policy(RoleName="weather-fleet-iot-rules",
                                           PolicyName=client("iam").list_role_policies(
                                               RoleName="weather-fleet-iot-rules")["PolicyNames"][0])
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["PutQuarantine"] == {"Sid": "PutQuarantine", "Effect": "Allow", "Action": "s3:PutObject",
                                           "Resource": f"arn:aws:s3:::{LAKE}/quarantine/*"}


def test_cold_readings_rule_has_the_labs_sql_and_puts_into_the_table(shared) -> None:
    rule = client("iot").get_topic_rule(ruleName="weather_fleet_cold_readings")["rule"]
    assert rule["sql"] == load_rule("cold_readings", "iot", topic="sensor/weather")
    # What the lab asks for, checked on the text AWS received rather than trusted from the loader.
    sql = rule["sql"]
    assert sql.startswith("SELECT weather_station, latitude, longitude, elevation, time,")
    for renamed in ("air_temperature.value AS air_temperature_value",
                    "air_temperature.quality AS air_temperature_quality", "wind_speed.value AS wind_speed_value"):
        assert renamed in sql
    assert "weather_condition, sky_cover_condition FROM 'sensor/weather'" in sql
    # only a thing's own messages, like the lake rule; the others reach only the quarantine rule
    assert sql.endswith("WHERE thing_name = clientid() AND air_temperature.value < -5")
    assert rule["actions"] == [{"dynamoDBv2": {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/weather-fleet-iot-rules",
        "putItem": {"tableName": TABLE},
    }}]
    assert_error_action(rule, "weather_fleet_cold_readings")


def test_table_is_keyed_by_station_and_time(shared) -> None:
    dynamodb = client("dynamodb")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "weather_station", "KeyType": "HASH"},
                                  {"AttributeName": "time", "KeyType": "RANGE"}]
    assert sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]) == [
        ("time", "S"), ("weather_station", "S")]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert tags_of(dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]) == EXPECTED_TAGS


def test_crawler_targets_the_lake_prefix_with_a_sample_of_ten_files(shared) -> None:
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
    # one table even when folders infer different types (https://docs.aws.amazon.com/glue/latest/dg/crawler-grouping-policy.html)
    assert json.loads(crawler["Configuration"])["Grouping"] == {"TableGroupingPolicy": "CombineCompatibleSchemas"}
    assert "Schedule" not in crawler or not crawler["Schedule"]  # on demand, as in the lab
    crawler_arn = f"arn:aws:glue:{REGION}:{ACCOUNT}:crawler/weather-fleet-lake"
    assert glue.get_tags(ResourceArn=crawler_arn)["Tags"] == EXPECTED_TAGS


def test_workgroup_writes_results_to_its_bucket_and_holds_the_labs_queries(shared) -> None:
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
    assert f'\nCREATE TABLE "{DATABASE}"."weather_flat" AS\n' in flatten and "EXISTS \"" not in flatten
    assert queries["drop_flat"]["QueryString"].strip().endswith(f"DROP TABLE IF EXISTS {DATABASE}.weather_flat")
    assert "CROSS JOIN UNNEST(sky_cover_condition)" in flatten and "CROSS JOIN UNNEST(weather_condition)" in flatten


def test_created_roles_are_least_privilege(shared) -> None:
    iam = client("iam")
    expected = {
        "weather-fleet-iot-rules": ("iot.amazonaws.com", {
            f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{STREAM}",
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}", f"arn:aws:s3:::{LAKE}/quarantine/*",
            f"arn:aws:s3:::{LAKE}/errors/iot-rules/*"}),  # the rules' error action, that prefix only
        "weather-fleet-firehose": ("firehose.amazonaws.com", {f"arn:aws:s3:::{LAKE}", f"arn:aws:s3:::{LAKE}/*"}),
    }
    for role_name, (service, resources) in expected.items():
        role = iam.get_role(RoleName=role_name)["Role"]
        statement = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"Service": service}
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


def test_state_file_records_what_was_created(shared) -> None:
    stack, changes, state_path = shared
    state = json.loads(state_path.read_text())
    assert (state["stack"], state["account_id"], state["region"]) == ("weather-fleet", ACCOUNT, REGION)
    assert [(r["kind"], r["name"]) for r in state["resources"]] == [(c.kind, c.name) for c in changes]
    assert all(r["created"] is True for r in state["resources"])
    ids = {r["name"]: r["id"] for r in state["resources"] if r["kind"] == "athena-named-query"}
    assert sorted(ids.values()) == sorted(client("athena").list_named_queries(WorkGroup=WORKGROUP)["NamedQueryIds"])


def test_second_deploy_changes_nothing(shared) -> None:
    _, first, state_path = shared
    before = state_path.read_bytes()
    again = make_stack(state_path, **SETTINGS)
    log = CallLog(again.clients)
    changes = again.deploy()
    assert {c.action for c in changes} == {"unchanged"}
    assert len(changes) == len(first)
    assert log.operations(), "the second deploy must still look at every resource"
    assert log.mutating() == []
    assert state_path.read_bytes() == before




# What each service sends when it assumes a role, as its documentation shows; moto evaluates no trust condition, so
# these request contexts stand in for AWS's evaluation (IAM condition operators: StringEquals exact, ArnLike with
# wildcards, a key the request lacks fails the condition:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
# - IoT rules: aws:SourceAccount and aws:SourceArn = the rule's ARN
#   (https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html);
# - Firehose: sts:ExternalId = the account id (https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html);
# - Glue: nothing documented (https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html).
SERVICE_REQUESTS = {
    "weather-fleet-iot-rules": ("iot.amazonaws.com", {
        "aws:SourceAccount": ACCOUNT, "aws:SourceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:rule/weather_fleet_to_lake"}),
    "weather-fleet-firehose": ("firehose.amazonaws.com", {"sts:ExternalId": ACCOUNT}),
    "weather-fleet-glue-crawler": ("glue.amazonaws.com", {}),
}


def assumable(document: dict, service: str, context: dict[str, str]) -> bool:
    """IAM's evaluation of a trust policy for `service` with the request `context` (the operators used here)."""
    import fnmatch

    for statement in document["Statement"]:
        if statement["Effect"] != "Allow" or statement["Principal"] != {"Service": service}:
            continue
        ok = True
        for operator, pairs in statement.get("Condition", {}).items():
            for key, wanted in pairs.items():
                got = context.get(key)
                if operator == "StringEquals":
                    ok &= got == wanted
                elif operator == "ArnLike":
                    ok &= got is not None and fnmatch.fnmatchcase(got, wanted)
                else:
                    raise AssertionError(f"operator {operator} not modelled")
        if ok:
            return True
    return False


def test_each_role_trusts_its_service_with_the_condition_its_documentation_shows(shared) -> None:
    iam = client("iam")
    documents = {name: iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] for name in SERVICE_REQUESTS}
    assert documents["weather-fleet-iot-rules"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:rule/weather_fleet_*"}}
    assert documents["weather-fleet-firehose"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": ACCOUNT}}
    assert "Condition" not in documents["weather-fleet-glue-crawler"]["Statement"][0]
    for name, (service, context) in SERVICE_REQUESTS.items():
        assert assumable(documents[name], service, context), name
    # another account's rule, or another stack's, cannot use the rules role; another account's Firehose neither
    iot = documents["weather-fleet-iot-rules"]
    assert not assumable(iot, "iot.amazonaws.com", {"aws:SourceAccount": "999999999999",
                                                    "aws:SourceArn": f"arn:aws:iot:{REGION}:999999999999:rule/x"})
    assert not assumable(iot, "iot.amazonaws.com", {"aws:SourceAccount": ACCOUNT,
                                                    "aws:SourceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:rule/other"})
    assert not assumable(documents["weather-fleet-firehose"], "firehose.amazonaws.com", {"sts:ExternalId": "9"})


def test_the_old_single_trust_policy_locks_firehose_and_glue_out() -> None:
    """The regression: one `aws:SourceAccount` condition for every role; Firehose and Glue do not send that key."""
    old = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                          "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
    assert not assumable(old, "glue.amazonaws.com", SERVICE_REQUESTS["weather-fleet-glue-crawler"][1])


def test_forged_messages_reach_only_the_quarantine_rule() -> None:
    """The three rules' WHERE clauses over the cases that matter, under IoT SQL's semantics: a comparison with an
    Undefined value (an absent key) is Undefined and selects nothing, `isUndefined` tests absence
    (https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html#iot-sql-conversions). DuckDB's
    NULL behaves the same in these WHERE clauses: clientid() -> the publisher column, isUndefined(x) -> x IS NULL."""
    import re

    import duckdb

    from pipeline.aws.stack import lake_rule_sql, quarantine_rule_sql

    def where(sql: str) -> str:
        clause = sql.split(" WHERE ", 1)[1].replace("clientid()", "publisher")
        return re.sub(r"isUndefined\((\w+)\)", r"\1 IS NULL", clause).replace("air_temperature.value", "temperature")

    cases = [("own-cold", "ws-1", "ws-1", -10.0), ("own-warm", "ws-1", "ws-1", 10.0),
             ("forged-cold", "ws-1", "ws-2", -10.0), ("unnamed-cold", None, "ws-2", -10.0)]
    con = duckdb.connect()
    con.execute("CREATE TABLE m (case_name VARCHAR, thing_name VARCHAR, publisher VARCHAR, temperature DOUBLE)")
    con.executemany("INSERT INTO m VALUES (?, ?, ?, ?)", cases)
    selected = {
        rule: {row[0] for row in con.execute(f"SELECT case_name FROM m WHERE {where(sql)}").fetchall()}
        for rule, sql in (("cold", load_rule("cold_readings", "iot", topic="sensor/weather")),
                          ("lake", lake_rule_sql("sensor/weather")),
                          ("quarantine", quarantine_rule_sql("sensor/weather")))
    }
    assert selected == {"cold": {"own-cold"}, "lake": {"own-cold", "own-warm"},
                        "quarantine": {"forged-cold", "unnamed-cold"}}
