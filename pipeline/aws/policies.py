"""Least-privilege inline policies of the three roles created when PIPELINE_ROLE_ARN is unset.

Each role is assumable by one service only, under the condition that service's documentation shows (a service
that does not send a condition key can never assume a role that requires it: see the `*_trust` functions), and
may touch only this stack's resources: the rules role may put records into the stream and items into the table, write what they could not
deliver under the lake bucket's `errors/iot-rules/` prefix (their error action) and quarantined messages under
its `quarantine/` prefix; the Firehose role may write
the lake bucket; the crawler role may read the lake prefix, write its own database's tables and its logs.
"""

from __future__ import annotations

from typing import Any

from pipeline.aws.names import StackNames


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _trust(service: str, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return _policy(statement)


def iot_rules_trust(names: StackNames) -> dict[str, Any]:
    """AWS IoT sends aws:SourceAccount and aws:SourceArn (the rule's ARN): both pinned, to this stack's rules.
    Source: https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html and
    https://docs.aws.amazon.com/iot/latest/developerguide/cross-service-confused-deputy-prevention.html"""
    rules = f"arn:{names.partition}:iot:{names.region}:{names.account_id}:rule/{names.rule_prefix}*"
    return _trust("iot.amazonaws.com", {"StringEquals": {"aws:SourceAccount": names.account_id},
                                        "ArnLike": {"aws:SourceArn": rules}})


def firehose_trust(names: StackNames) -> dict[str, Any]:
    """Firehose assumes the role with sts:ExternalId = the account id (it does not document aws:SourceAccount).
    Source: https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3"""
    return _trust("firehose.amazonaws.com", {"StringEquals": {"sts:ExternalId": names.account_id}})


def crawler_trust(names: StackNames) -> dict[str, Any]:
    """Glue's documented crawler role trusts glue.amazonaws.com with no condition.
    Source: https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html and
    https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html"""
    return _trust("glue.amazonaws.com")


def iot_rules_policy(names: StackNames) -> dict[str, Any]:
    return _policy(
        {"Sid": "PutToLakeStream", "Effect": "Allow",
         "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"], "Resource": names.firehose_stream_arn},
        {"Sid": "PutColdReadings", "Effect": "Allow",
         "Action": "dynamodb:PutItem", "Resource": names.cold_readings_table_arn},
        {"Sid": "WriteRuleErrors", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"{names.bucket_arn(names.lake_bucket)}/{names.rule_error_prefix}*"},
        {"Sid": "PutQuarantine", "Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"{names.bucket_arn(names.lake_bucket)}/{names.quarantine_prefix}*"},
    )


def firehose_policy(names: StackNames) -> dict[str, Any]:
    bucket = names.bucket_arn(names.lake_bucket)
    return _policy(
        {"Sid": "WriteLake", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                    "s3:ListBucketMultipartUploads", "s3:PutObject"],
         "Resource": [bucket, f"{bucket}/*"]},
    )


def crawler_policy(names: StackNames) -> dict[str, Any]:
    bucket = names.bucket_arn(names.lake_bucket)
    glue = f"arn:{names.partition}:glue:{names.region}:{names.account_id}"
    logs = f"arn:{names.partition}:logs:{names.region}:{names.account_id}:log-group:/aws-glue/crawlers"
    return _policy(
        {"Sid": "ReadLakePrefix", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": f"{bucket}/{names.lake_prefix}*"},
        {"Sid": "ListLakePrefix", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket,
         "Condition": {"StringLike": {"s3:prefix": [f"{names.lake_prefix}*", names.lake_prefix.rstrip("/")]}}},
        {"Sid": "WriteOwnCatalog", "Effect": "Allow",
         "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                    "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
                    "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition"],
         "Resource": [f"{glue}:catalog", f"{glue}:database/{names.glue_database}",
                      f"{glue}:table/{names.glue_database}/*"]},
        {"Sid": "CrawlerLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": [logs, f"{logs}:*"]},
    )
