"""The physical names and ARNs of the stack's resources, derived from the settings, account and region."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.aws.errors import ConfigurationError
from pipeline.aws.settings import BUCKET_PATTERN, PipelineAwsSettings

TAG_STACK = "weather-fleet:stack"
TAG_MANAGED_BY = "managed-by"


@dataclass(frozen=True)
class StackNames:
    """Every name the stack uses; one place so deploy, status, destroy and the tests agree."""

    stack: str
    account_id: str
    region: str
    partition: str
    topic: str
    lake_bucket: str
    lake_bucket_given: bool
    athena_results_bucket: str
    athena_results_bucket_given: bool

    @classmethod
    def build(cls, settings: PipelineAwsSettings, *, account_id: str, region: str) -> StackNames:
        partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
        lake = settings.lake_bucket or f"{settings.stack_name}-lake-{account_id}-{region}"
        results = settings.athena_results_bucket or f"{settings.stack_name}-athena-{account_id}-{region}"
        for variable, bucket in (("PIPELINE_LAKE_BUCKET", lake), ("PIPELINE_ATHENA_RESULTS_BUCKET", results)):
            if not BUCKET_PATTERN.match(bucket):
                raise ConfigurationError(
                    f"derived bucket name {bucket!r} is invalid (longer than 63 characters?): "
                    f"set {variable} or a shorter PIPELINE_STACK_NAME"
                )
        if lake == results:
            raise ConfigurationError("PIPELINE_LAKE_BUCKET and PIPELINE_ATHENA_RESULTS_BUCKET must differ")
        return cls(
            stack=settings.stack_name,
            account_id=account_id,
            region=region,
            partition=partition,
            topic=settings.topic,
            lake_bucket=lake,
            lake_bucket_given=settings.lake_bucket is not None,
            athena_results_bucket=results,
            athena_results_bucket_given=settings.athena_results_bucket is not None,
        )

    @property
    def _underscored(self) -> str:
        return self.stack.replace("-", "_")

    # --- data lake and Firehose -------------------------------------------------------------------------------
    @property
    def lake_prefix(self) -> str:
        """Where Firehose writes and the crawler looks: the topic as a folder, like the local lake writer."""
        return f"{self.topic}/"

    @property
    def error_prefix(self) -> str:
        """Failed records of the whole stack: Firehose's delivery errors and the IoT rules' error action."""
        return "errors/"

    @property
    def rule_error_prefix(self) -> str:
        """Where the rules' error action writes a message a rule could not deliver (throttled, denied...)."""
        return f"{self.error_prefix}iot-rules/"

    @property
    def firehose_stream(self) -> str:
        return f"{self.stack}-lake"

    @property
    def firehose_stream_arn(self) -> str:
        return f"arn:{self.partition}:firehose:{self.region}:{self.account_id}:deliverystream/{self.firehose_stream}"

    # --- IoT rules and DynamoDB -------------------------------------------------------------------------------
    @property
    def rule_prefix(self) -> str:
        """Every rule of the stack starts with this (the rules role trusts rules named so, and no other)."""
        return f"{self._underscored}_"

    @property
    def lake_rule(self) -> str:
        return f"{self.rule_prefix}to_lake"

    @property
    def quarantine_rule(self) -> str:
        return f"{self.rule_prefix}quarantine"

    @property
    def quarantine_prefix(self) -> str:
        """Where messages not from the thing they name are kept (beside the lake prefix, never crawled)."""
        return "quarantine/"

    @property
    def cold_readings_rule(self) -> str:
        return f"{self.rule_prefix}cold_readings"

    @property
    def cold_readings_table(self) -> str:
        return f"{self.stack}-cold-readings"

    @property
    def cold_readings_table_arn(self) -> str:
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:table/{self.cold_readings_table}"

    # --- Glue and Athena --------------------------------------------------------------------------------------
    @property
    def glue_database(self) -> str:
        return self._underscored

    @property
    def glue_table(self) -> str:
        """The table the crawler creates: Glue names it after the last folder of the crawled path."""
        return self.topic.rsplit("/", 1)[-1].lower().replace("-", "_")

    @property
    def crawler(self) -> str:
        return f"{self.stack}-lake"

    @property
    def athena_workgroup(self) -> str:
        return self.stack

    @property
    def athena_output_location(self) -> str:
        return f"s3://{self.athena_results_bucket}/results/"

    # --- IAM (only when PIPELINE_ROLE_ARN is unset) -----------------------------------------------------------
    @property
    def iot_role(self) -> str:
        return f"{self.stack}-iot-rules"

    @property
    def firehose_role(self) -> str:
        return f"{self.stack}-firehose"

    @property
    def crawler_role(self) -> str:
        return f"{self.stack}-glue-crawler"

    def role_arn(self, role_name: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{role_name}"

    def bucket_arn(self, bucket: str) -> str:
        return f"arn:{self.partition}:s3:::{bucket}"

    def tags(self, extra: dict[str, str]) -> dict[str, str]:
        """The tags put on every taggable resource: the user's, then the stack's (which win)."""
        return {**extra, TAG_STACK: self.stack, TAG_MANAGED_BY: "weather-fleet"}
