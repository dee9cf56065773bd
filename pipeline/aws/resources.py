"""One class per kind of AWS resource the stack manages: read its current configuration, create, update, delete.

Each resource reports its configuration in the same shape as `desired()` (only the fields the stack sets), so
`diff()` can tell "in sync" from "drifted" and a second deploy makes no call that changes anything.

Longer than the ~400 lines a module should be, on purpose: the resource classes share one base and one
read/desired/diff contract, and each is short; read together they show that every resource keeps it. Split it
into one module per resource kind when a class grows beyond a screen.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from fleetcore.aws_errors import head_forbidden
from pipeline.aws.errors import ConflictError, PipelineAwsError
from pipeline.aws.names import StackNames
from pipeline.aws.session import AwsClients

Record = dict[str, Any]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


def subset(current: Any, desired: Any) -> Any:
    """`current` restricted to the keys present in `desired`, recursively (services add defaults we never set)."""
    if isinstance(desired, dict) and isinstance(current, dict):
        return {key: subset(current.get(key), value) for key, value in desired.items()}
    if isinstance(desired, list) and isinstance(current, list) and len(desired) == len(current):
        return [subset(c, d) for c, d in zip(current, desired, strict=True)]
    return current


def retry_while_role_propagates(call: Callable[[], Any], *, attempts: int, delay: float) -> Any:
    """Run `call`, retrying while a just-created IAM role is not yet assumable by the service (eventual consistency)."""
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", "")).lower()
            retryable = error_code(exc) in {
                "InvalidArgumentException", "InvalidRequestException", "InvalidInputException",
                "AccessDeniedException",
            } and ("role" in message or "assume" in message)
            if not retryable or attempt == attempts - 1:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


class Resource:
    """Base class: subclasses set `kind` and implement the five operations."""

    kind: str = ""

    def __init__(self, clients: AwsClients, names: StackNames, name: str, *, wait: float = 5.0) -> None:
        self.clients = clients
        self.names = names
        self.name = name
        self.wait = wait
        self.wanted = True
        self.role_retry_attempts = 1

    def __repr__(self) -> str:
        return f"{self.kind}:{self.name}"

    def desired(self) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, record: Record | None) -> dict[str, Any] | None:
        """The current configuration (shape of `desired()`), or None when the resource does not exist."""
        raise NotImplementedError

    def create(self) -> Record:
        """Create the resource; return details worth recording (ARN, id)."""
        raise NotImplementedError

    def update(self, current: dict[str, Any], record: Record) -> None:
        raise NotImplementedError

    def delete(self, record: Record) -> None:
        raise NotImplementedError

    def diff(self, current: dict[str, Any]) -> list[str]:
        """Names of the top-level fields whose current value differs from the desired one."""
        desired = self.desired()
        return [key for key, value in desired.items() if subset(current.get(key), value) != value]

    def _poll(self, done: Callable[[], bool], what: str, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise PipelineAwsError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(self.wait)

    def _with_role_retry(self, call: Callable[[], Any]) -> Any:
        return retry_while_role_propagates(call, attempts=self.role_retry_attempts, delay=max(self.wait, 0.01) * 2)


# --- S3 -----------------------------------------------------------------------------------------------------------
PUBLIC_ACCESS_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class Bucket(Resource):
    """A private, tagged bucket; a bucket the user named and that already exists is used as is."""

    kind = "s3-bucket"

    def __init__(self, clients: AwsClients, names: StackNames, name: str, *, tags: dict[str, str], variable: str,
                 wait: float = 5.0) -> None:
        super().__init__(clients, names, name, wait=wait)
        self.tags = tags
        self.variable = variable

    def desired(self) -> dict[str, Any]:
        return {"public_access_block": PUBLIC_ACCESS_BLOCKED, "tags": self.tags}

    def read(self, record: Record | None) -> dict[str, Any] | None:
        s3 = self.clients.s3
        try:
            s3.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
                return None
            if error_code(exc) in {"403", "AccessDenied"}:
                raise ConflictError(head_forbidden(self.name, variable=self.variable)) from exc
            raise
        try:
            tags = tag_dict(s3.get_bucket_tagging(Bucket=self.name)["TagSet"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchTagSet":
                raise
            tags = {}
        try:
            block = s3.get_public_access_block(Bucket=self.name)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = {}
        return {"public_access_block": block, "tags": tags}

    def create(self) -> Record:
        s3 = self.clients.s3
        kwargs: dict[str, Any] = {"Bucket": self.name}
        if self.names.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.names.region}
        s3.create_bucket(**kwargs)
        self._configure()
        return {"arn": self.names.bucket_arn(self.name)}

    def update(self, current: dict[str, Any], record: Record) -> None:
        self._configure()

    def _configure(self) -> None:
        s3 = self.clients.s3
        s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCKED)
        s3.put_bucket_tagging(Bucket=self.name, Tagging={"TagSet": tag_list(self.tags)})

    def delete(self, record: Record) -> None:
        """Empty the bucket (every object version and delete marker), then delete it."""
        s3 = self.clients.s3
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.name):
            keys = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=self.name, Delete={"Objects": keys[start:start + 1000], "Quiet": True})
        s3.delete_bucket(Bucket=self.name)


# --- IAM ----------------------------------------------------------------------------------------------------------
class Role(Resource):
    """A service role with one inline least-privilege policy (only created when PIPELINE_ROLE_ARN is unset)."""

    kind = "iam-role"

    def __init__(self, clients: AwsClients, names: StackNames, name: str, *, trust: dict[str, Any],
                 policy: dict[str, Any], description: str, tags: dict[str, str], wait: float = 5.0) -> None:
        super().__init__(clients, names, name, wait=wait)
        self.trust_policy = trust  # per service (pipeline.aws.policies: *_trust), as its documentation shows
        self.policy = policy
        self.description = description
        self.tags = tags

    @property
    def policy_name(self) -> str:
        return f"{self.names.stack}-least-privilege"

    def trust(self) -> dict[str, Any]:
        return self.trust_policy

    def desired(self) -> dict[str, Any]:
        return {"trust": self.trust(), "policy": self.policy, "tags": self.tags}

    def read(self, record: Record | None) -> dict[str, Any] | None:
        iam = self.clients.iam
        try:
            role = iam.get_role(RoleName=self.name)["Role"]
        except ClientError as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise
        try:
            policy = iam.get_role_policy(RoleName=self.name, PolicyName=self.policy_name)["PolicyDocument"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            policy = None
        tags = tag_dict(iam.list_role_tags(RoleName=self.name)["Tags"])
        return {"trust": _json(role["AssumeRolePolicyDocument"]), "policy": _json(policy), "tags": tags}

    def create(self) -> Record:
        iam = self.clients.iam
        role = iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(self.trust()),
            Description=self.description,
            Tags=tag_list(self.tags),
        )["Role"]
        iam.put_role_policy(RoleName=self.name, PolicyName=self.policy_name, PolicyDocument=json.dumps(self.policy))
        return {"arn": role["Arn"]}

    def update(self, current: dict[str, Any], record: Record) -> None:
        iam = self.clients.iam
        if current["trust"] != self.trust():
            iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=json.dumps(self.trust()))
        if current["policy"] != self.policy:
            iam.put_role_policy(RoleName=self.name, PolicyName=self.policy_name, PolicyDocument=json.dumps(self.policy))
        if current["tags"] != self.tags:
            iam.tag_role(RoleName=self.name, Tags=tag_list(self.tags))

    def delete(self, record: Record) -> None:
        iam = self.clients.iam
        for policy_name in iam.list_role_policies(RoleName=self.name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=self.name, PolicyName=policy_name)
        for attached in iam.list_attached_role_policies(RoleName=self.name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=self.name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=self.name)


def _json(document: Any) -> Any:
    """IAM documents come back decoded by botocore, or as (URL-encoded) JSON text from some endpoints."""
    if isinstance(document, str):
        from urllib.parse import unquote

        return json.loads(unquote(document))
    return document


# --- Firehose -----------------------------------------------------------------------------------------------------
class DeliveryStream(Resource):
    """Direct PUT Firehose stream to the lake bucket: gzip, buffering hints, date prefix and error prefix."""

    kind = "firehose-delivery-stream"

    def __init__(self, clients: AwsClients, names: StackNames, *, role_arn: str, buffer_mb: int,
                 buffer_seconds: int, tags: dict[str, str], wait: float = 5.0) -> None:
        super().__init__(clients, names, names.firehose_stream, wait=wait)
        self.role_arn = role_arn
        self.buffer_mb = buffer_mb
        self.buffer_seconds = buffer_seconds
        self.tags = tags

    def destination(self) -> dict[str, Any]:
        date = "!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/"
        return {
            "RoleARN": self.role_arn,
            "BucketARN": self.names.bucket_arn(self.names.lake_bucket),
            "Prefix": f"{self.names.lake_prefix}{date}",
            "ErrorOutputPrefix": f"errors/!{{firehose:error-output-type}}/{date}",
            "BufferingHints": {"SizeInMBs": self.buffer_mb, "IntervalInSeconds": self.buffer_seconds},
            "CompressionFormat": "GZIP",
        }

    def desired(self) -> dict[str, Any]:
        return {"destination": self.destination(), "tags": self.tags}

    def _describe(self) -> dict[str, Any] | None:
        try:
            return self.clients.firehose.describe_delivery_stream(DeliveryStreamName=self.name)[
                "DeliveryStreamDescription"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise

    def read(self, record: Record | None) -> dict[str, Any] | None:
        description = self._describe()
        if description is None:
            return None
        if description["DeliveryStreamStatus"] == "DELETING":
            raise PipelineAwsError(f"Firehose stream {self.name} is being deleted: run the command again in a minute")
        destination = description["Destinations"][0].get("ExtendedS3DestinationDescription", {})
        tags = tag_dict(self.clients.firehose.list_tags_for_delivery_stream(DeliveryStreamName=self.name)["Tags"])
        return {"destination": destination, "tags": tags}

    def create(self) -> Record:
        firehose = self.clients.firehose
        arn = self._with_role_retry(lambda: firehose.create_delivery_stream(
            DeliveryStreamName=self.name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=self.destination(),
            Tags=tag_list(self.tags),
        ))["DeliveryStreamARN"]
        self._poll(lambda: (self._describe() or {}).get("DeliveryStreamStatus") == "ACTIVE",
                   f"Firehose stream {self.name} to become ACTIVE")
        return {"arn": arn}

    def update(self, current: dict[str, Any], record: Record) -> None:
        firehose = self.clients.firehose
        if subset(current["destination"], self.destination()) != self.destination():
            description = self._describe() or {}
            firehose.update_destination(
                DeliveryStreamName=self.name,
                CurrentDeliveryStreamVersionId=description["VersionId"],
                DestinationId=description["Destinations"][0]["DestinationId"],
                ExtendedS3DestinationUpdate=self.destination(),
            )
        if current["tags"] != self.tags:
            firehose.tag_delivery_stream(DeliveryStreamName=self.name, Tags=tag_list(self.tags))

    def delete(self, record: Record) -> None:
        self.clients.firehose.delete_delivery_stream(DeliveryStreamName=self.name)
        self._poll(lambda: self._describe() is None, f"Firehose stream {self.name} to be deleted")


# --- DynamoDB -----------------------------------------------------------------------------------------------------
class ColdReadingsTable(Resource):
    """The lab's table: partition key `weather_station`, sort key `time` (both strings), on-demand billing."""

    kind = "dynamodb-table"
    KEY_SCHEMA = [
        {"AttributeName": "weather_station", "KeyType": "HASH"},
        {"AttributeName": "time", "KeyType": "RANGE"},
    ]
    ATTRIBUTES = [
        {"AttributeName": "weather_station", "AttributeType": "S"},
        {"AttributeName": "time", "AttributeType": "S"},
    ]

    def __init__(self, clients: AwsClients, names: StackNames, *, tags: dict[str, str], wait: float = 5.0) -> None:
        super().__init__(clients, names, names.cold_readings_table, wait=wait)
        self.tags = tags

    def desired(self) -> dict[str, Any]:
        return {
            "key_schema": self.KEY_SCHEMA,
            "attributes": sorted(self.ATTRIBUTES, key=lambda a: a["AttributeName"]),
            "billing_mode": "PAY_PER_REQUEST",
            "tags": self.tags,
        }

    def read(self, record: Record | None) -> dict[str, Any] | None:
        dynamodb = self.clients.dynamodb
        try:
            table = dynamodb.describe_table(TableName=self.name)["Table"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        tags = tag_dict(dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))
        return {
            "key_schema": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "billing_mode": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "tags": tags,
        }

    def create(self) -> Record:
        dynamodb = self.clients.dynamodb
        table = dynamodb.create_table(
            TableName=self.name,
            KeySchema=self.KEY_SCHEMA,
            AttributeDefinitions=self.ATTRIBUTES,
            BillingMode="PAY_PER_REQUEST",
            Tags=tag_list(self.tags),
        )["TableDescription"]
        dynamodb.get_waiter("table_exists").wait(
            TableName=self.name, WaiterConfig={"Delay": max(self.wait, 0.01), "MaxAttempts": 120})
        return {"arn": table["TableArn"]}

    def update(self, current: dict[str, Any], record: Record) -> None:
        dynamodb = self.clients.dynamodb
        if current["key_schema"] != self.KEY_SCHEMA or current["attributes"] != self.desired()["attributes"]:
            raise ConflictError(
                f"DynamoDB table {self.name} has keys {current['key_schema']}, not weather_station/time: keys "
                "cannot change in place; run `make pipeline-down TARGET=aws` then `make pipeline TARGET=aws`"
            )
        if current["billing_mode"] != "PAY_PER_REQUEST":
            dynamodb.update_table(TableName=self.name, BillingMode="PAY_PER_REQUEST")
        if current["tags"] != self.tags:
            dynamodb.tag_resource(ResourceArn=self.names.cold_readings_table_arn, Tags=tag_list(self.tags))

    def delete(self, record: Record) -> None:
        dynamodb = self.clients.dynamodb
        dynamodb.delete_table(TableName=self.name)
        dynamodb.get_waiter("table_not_exists").wait(
            TableName=self.name, WaiterConfig={"Delay": max(self.wait, 0.01), "MaxAttempts": 120})


# --- IoT rules ----------------------------------------------------------------------------------------------------
class TopicRule(Resource):
    """An IoT topic rule (SQL version 2016-03-23) with one action."""

    kind = "iot-topic-rule"
    SQL_VERSION = "2016-03-23"

    def __init__(self, clients: AwsClients, names: StackNames, name: str, *, sql: str, description: str,
                 actions: list[dict[str, Any]], tags: dict[str, str], error_action: dict[str, Any],
                 wait: float = 5.0) -> None:
        super().__init__(clients, names, name, wait=wait)
        self.sql = sql
        self.description = description
        self.actions = actions
        self.error_action = error_action
        self.tags = tags

    def payload(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "description": self.description,
            "actions": self.actions,
            "errorAction": self.error_action,
            "ruleDisabled": False,
            "awsIotSqlVersion": self.SQL_VERSION,
        }

    def desired(self) -> dict[str, Any]:
        # Rule tags are set at creation; IoT returns them only through ListTagsForResource, not compared here.
        return self.payload()

    def read(self, record: Record | None) -> dict[str, Any] | None:
        try:
            rule = self.clients.iot.get_topic_rule(ruleName=self.name)["rule"]
        except ClientError as exc:
            # IoT answers UnauthorizedException for a rule that does not exist.
            if error_code(exc) in {"ResourceNotFoundException", "UnauthorizedException"}:
                return None
            raise
        return {key: rule.get(key) for key in self.payload()}

    def create(self) -> Record:
        self._with_role_retry(lambda: self.clients.iot.create_topic_rule(
            ruleName=self.name, topicRulePayload=self.payload(), tags=urlencode(sorted(self.tags.items()))))
        return {"arn": f"arn:{self.names.partition}:iot:{self.names.region}:{self.names.account_id}:rule/{self.name}"}

    def update(self, current: dict[str, Any], record: Record) -> None:
        self._with_role_retry(
            lambda: self.clients.iot.replace_topic_rule(ruleName=self.name, topicRulePayload=self.payload()))

    def delete(self, record: Record) -> None:
        self.clients.iot.delete_topic_rule(ruleName=self.name)


# --- Glue ---------------------------------------------------------------------------------------------------------
class GlueDatabase(Resource):
    kind = "glue-database"

    def __init__(self, clients: AwsClients, names: StackNames, *, tags: dict[str, str], wait: float = 5.0) -> None:
        super().__init__(clients, names, names.glue_database, wait=wait)
        self.tags = tags

    @property
    def arn(self) -> str:
        n = self.names
        return f"arn:{n.partition}:glue:{n.region}:{n.account_id}:database/{self.name}"

    def desired(self) -> dict[str, Any]:
        return {"description": f"weather-fleet lake of stack {self.names.stack} (tables made by the crawler)",
                "tags": self.tags}

    def read(self, record: Record | None) -> dict[str, Any] | None:
        glue = self.clients.glue
        try:
            database = glue.get_database(Name=self.name)["Database"]
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return None
            raise
        return {"description": database.get("Description"), "tags": glue.get_tags(ResourceArn=self.arn)["Tags"]}

    def create(self) -> Record:
        self.clients.glue.create_database(
            DatabaseInput={"Name": self.name, "Description": self.desired()["description"]}, Tags=self.tags)
        return {"arn": self.arn}

    def update(self, current: dict[str, Any], record: Record) -> None:
        glue = self.clients.glue
        if current["description"] != self.desired()["description"]:
            glue.update_database(Name=self.name,
                                 DatabaseInput={"Name": self.name, "Description": self.desired()["description"]})
        if current["tags"] != self.tags:
            glue.tag_resource(ResourceArn=self.arn, TagsToAdd=self.tags)

    def delete(self, record: Record) -> None:
        self.clients.glue.delete_database(Name=self.name)


class Crawler(Resource):
    """On-demand crawler over the lake prefix: sample of N files, new folders only, partitions inherit the schema,
    and compatible schemas combined into one table.

    Folders whose sampled files infer different types (an hour where every `weather_condition` is an empty array
    beside one with an array of structs) would otherwise become several tables instead of one; the grouping
    policy makes the crawler consider them one table
    (https://docs.aws.amazon.com/glue/latest/dg/crawler-grouping-policy.html).
    """

    kind = "glue-crawler"
    CONFIGURATION = {
        "Version": 1.0,
        "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
    }

    def __init__(self, clients: AwsClients, names: StackNames, *, role_arn: str, sample_size: int,
                 tags: dict[str, str], wait: float = 5.0) -> None:
        super().__init__(clients, names, names.crawler, wait=wait)
        self.role_arn = role_arn
        self.sample_size = sample_size
        self.tags = tags

    @property
    def arn(self) -> str:
        n = self.names
        return f"arn:{n.partition}:glue:{n.region}:{n.account_id}:crawler/{self.name}"

    @property
    def target_path(self) -> str:
        return f"s3://{self.names.lake_bucket}/{self.names.lake_prefix}"

    def desired(self) -> dict[str, Any]:
        return {
            "Role": self.role_arn,
            "DatabaseName": self.names.glue_database,
            "Targets": {"S3Targets": [{"Path": self.target_path, "SampleSize": self.sample_size}]},
            "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
            "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
            "Configuration": self.CONFIGURATION,
            "tags": self.tags,
        }

    def _arguments(self) -> dict[str, Any]:
        arguments = {key: value for key, value in self.desired().items() if key != "tags"}
        arguments["Configuration"] = json.dumps(self.CONFIGURATION)
        return {"Name": self.name, "Description": f"weather-fleet lake of stack {self.names.stack}", **arguments}

    def read(self, record: Record | None) -> dict[str, Any] | None:
        glue = self.clients.glue
        try:
            crawler = glue.get_crawler(Name=self.name)["Crawler"]
        except ClientError as exc:
            if error_code(exc) == "EntityNotFoundException":
                return None
            raise
        current = {key: crawler.get(key) for key in self.desired() if key != "tags"}
        if isinstance(current["Configuration"], str):
            current["Configuration"] = json.loads(current["Configuration"])
        current["tags"] = glue.get_tags(ResourceArn=self.arn)["Tags"]
        current["State"] = crawler.get("State")
        return current

    def create(self) -> Record:
        self._with_role_retry(lambda: self.clients.glue.create_crawler(**self._arguments(), Tags=self.tags))
        return {"arn": self.arn}

    def update(self, current: dict[str, Any], record: Record) -> None:
        glue = self.clients.glue
        if any(key != "tags" for key in self.diff(current)):
            self._with_role_retry(lambda: glue.update_crawler(**self._arguments()))
        if current["tags"] != self.tags:
            glue.tag_resource(ResourceArn=self.arn, TagsToAdd=self.tags)

    def delete(self, record: Record) -> None:
        glue = self.clients.glue
        state = glue.get_crawler(Name=self.name)["Crawler"].get("State")
        if state == "RUNNING":
            glue.stop_crawler(Name=self.name)
        if state in {"RUNNING", "STOPPING"}:
            self._poll(lambda: glue.get_crawler(Name=self.name)["Crawler"].get("State") == "READY",
                       f"crawler {self.name} to stop")
        glue.delete_crawler(Name=self.name)


# --- Athena -------------------------------------------------------------------------------------------------------
class Workgroup(Resource):
    """Athena workgroup writing results to the results bucket, its settings enforced on every query."""

    kind = "athena-workgroup"

    def __init__(self, clients: AwsClients, names: StackNames, *, tags: dict[str, str], wait: float = 5.0) -> None:
        super().__init__(clients, names, names.athena_workgroup, wait=wait)
        self.tags = tags

    @property
    def arn(self) -> str:
        n = self.names
        return f"arn:{n.partition}:athena:{n.region}:{n.account_id}:workgroup/{self.name}"

    def configuration(self) -> dict[str, Any]:
        return {
            "ResultConfiguration": {"OutputLocation": self.names.athena_output_location},
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": False,
        }

    def desired(self) -> dict[str, Any]:
        return {
            "description": f"weather-fleet queries of stack {self.names.stack}",
            "configuration": self.configuration(),
            "tags": self.tags,
        }

    def read(self, record: Record | None) -> dict[str, Any] | None:
        athena = self.clients.athena
        try:
            workgroup = athena.get_work_group(WorkGroup=self.name).get("WorkGroup")
        except ClientError as exc:
            if error_code(exc) == "InvalidRequestException":
                return None
            raise
        if not workgroup:
            return None
        tags = tag_dict(athena.list_tags_for_resource(ResourceARN=self.arn).get("Tags"))
        return {"description": workgroup.get("Description"), "configuration": workgroup.get("Configuration", {}),
                "tags": tags}

    def create(self) -> Record:
        desired = self.desired()
        self.clients.athena.create_work_group(Name=self.name, Description=desired["description"],
                                              Configuration=self.configuration(), Tags=tag_list(self.tags))
        return {"arn": self.arn}

    def update(self, current: dict[str, Any], record: Record) -> None:
        athena = self.clients.athena
        if set(self.diff(current)) - {"tags"}:
            configuration = self.configuration()
            athena.update_work_group(
                WorkGroup=self.name,
                Description=self.desired()["description"],
                ConfigurationUpdates={
                    "ResultConfigurationUpdates": configuration["ResultConfiguration"],
                    "EnforceWorkGroupConfiguration": configuration["EnforceWorkGroupConfiguration"],
                    "PublishCloudWatchMetricsEnabled": configuration["PublishCloudWatchMetricsEnabled"],
                },
            )
        if current["tags"] != self.tags:
            athena.tag_resource(ResourceARN=self.arn, Tags=tag_list(self.tags))

    def delete(self, record: Record) -> None:
        # RecursiveDeleteOption also deletes the named queries and query history saved in the workgroup.
        self.clients.athena.delete_work_group(WorkGroup=self.name, RecursiveDeleteOption=True)


class NamedQuery(Resource):
    """One of the lab's queries saved in the stack's workgroup; AWS gives it an id, kept in the state file."""

    kind = "athena-named-query"

    def __init__(self, clients: AwsClients, names: StackNames, name: str, *, sql: str | None,
                 description: str = "", wait: float = 5.0) -> None:
        super().__init__(clients, names, name, wait=wait)
        self.sql = sql
        self.description = description

    def desired(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Database": self.names.glue_database,
            "WorkGroup": self.names.athena_workgroup,
            "QueryString": self.sql,
            "Description": self.description,
        }

    def _get(self, query_id: str) -> dict[str, Any] | None:
        try:
            return self.clients.athena.get_named_query(NamedQueryId=query_id).get("NamedQuery")
        except ClientError as exc:
            if error_code(exc) in {"InvalidRequestException", "ResourceNotFoundException"}:
                return None
            raise

    def find_id(self) -> str | None:
        """The id of a query with this name in the stack's workgroup (e.g. created by a run that stopped early)."""
        athena = self.clients.athena
        try:
            pages = athena.get_paginator("list_named_queries").paginate(WorkGroup=self.names.athena_workgroup)
            for page in pages:
                for query_id in page.get("NamedQueryIds", []):
                    query = self._get(query_id)
                    if query and query.get("Name") == self.name:
                        return query_id
        except ClientError as exc:
            if error_code(exc) == "InvalidRequestException":
                return None
            raise
        return None

    def read(self, record: Record | None) -> dict[str, Any] | None:
        query_id = (record or {}).get("id")
        query = self._get(query_id) if query_id else None
        if query is None:
            return None
        return {key: query.get(key, "" if key == "Description" else None) for key in self.desired()} | {"id": query_id}

    def _token(self) -> str:
        """Idempotency token: retrying the same creation returns the same query instead of a duplicate."""
        digest = hashlib.sha256(json.dumps(self.desired(), sort_keys=True).encode()).hexdigest()
        return f"weather-fleet-{digest[:48]}"

    def create(self) -> Record:
        desired = self.desired()
        query_id = self.clients.athena.create_named_query(
            Name=self.name, Description=desired["Description"], Database=desired["Database"],
            QueryString=desired["QueryString"], WorkGroup=desired["WorkGroup"], ClientRequestToken=self._token(),
        )["NamedQueryId"]
        return {"id": query_id}

    def update(self, current: dict[str, Any], record: Record) -> None:
        desired = self.desired()
        if current["Database"] != desired["Database"] or current["WorkGroup"] != desired["WorkGroup"]:
            raise ConflictError(f"named query {self.name} ({record['id']}) is in another database or workgroup: "
                                "run `make pipeline-down TARGET=aws` then deploy again")
        self.clients.athena.update_named_query(NamedQueryId=record["id"], Name=self.name,
                                               Description=desired["Description"], QueryString=desired["QueryString"])

    def delete(self, record: Record) -> None:
        self.clients.athena.delete_named_query(NamedQueryId=record["id"])
