"""Configuration of the AWS deployment, read from the environment and `.env` by pydantic-settings.

The standard AWS variables (`AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, the key pair and
session token) keep their usual names; everything specific to the pipeline starts with `PIPELINE_` or `FIREHOSE_`.
Resource names derive from `PIPELINE_STACK_NAME`; the two bucket names also take the account id and region so they
are globally unique, and either can be set explicitly (an existing bucket is then used, never modified or deleted).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator

from fleetcore.settings import FleetSettingsBase, Topic
from fleetcore.settings import load_settings as _load_settings
from fleetcore.topic import DEFAULT_TOPIC
from pipeline.aws.errors import ConfigurationError

STACK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class PipelineAwsSettings(FleetSettingsBase):
    """Everything `python -m pipeline.aws` needs; see `.env.example`, section Pipeline."""

    aws_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="Region to deploy to (AWS Academy: us-east-1).",
    )
    aws_profile: str | None = Field(default=None, validation_alias="AWS_PROFILE")
    aws_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(default=None, validation_alias="AWS_SECRET_ACCESS_KEY")
    aws_session_token: SecretStr | None = Field(default=None, validation_alias="AWS_SESSION_TOKEN")
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias="AWS_ENDPOINT_URL",
        description="Send every API call to this endpoint (a moto server or LocalStack) instead of AWS.",
    )
    stack_name: str = Field(
        default="weather-fleet",
        validation_alias="PIPELINE_STACK_NAME",
        description="Prefix of every resource name and value of the `weather-fleet:stack` tag.",
    )
    role_arn: str | None = Field(
        default=None,
        validation_alias="PIPELINE_ROLE_ARN",
        description="Existing role used by the rules, Firehose and the crawler (AWS Academy: LabRole's ARN). "
        "Unset: three least-privilege roles are created, recorded and removed with the stack.",
    )
    lake_bucket: str | None = Field(default=None, validation_alias="PIPELINE_LAKE_BUCKET")
    athena_results_bucket: str | None = Field(default=None, validation_alias="PIPELINE_ATHENA_RESULTS_BUCKET")
    topic: Topic = Field(
        default=DEFAULT_TOPIC,
        validation_alias="TOPIC",
        description="The topic the stations publish to (shared with the station settings); the rules read it.",
    )
    firehose_buffer_mb: int = Field(default=5, ge=1, le=128, validation_alias="FIREHOSE_BUFFER_MB")
    firehose_buffer_seconds: int = Field(default=60, ge=0, le=900, validation_alias="FIREHOSE_BUFFER_SECONDS")
    crawler_sample_size: int = Field(default=10, ge=1, le=249, validation_alias="PIPELINE_CRAWLER_SAMPLE_SIZE")
    tags: dict[str, str] = Field(
        default_factory=dict,
        validation_alias="PIPELINE_TAGS",
        description='Extra tags as a JSON object, e.g. {"course":"iot-lab"}; added to the stack tags.',
    )
    state_file: Path = Field(default=Path(".fleet/pipeline-aws.json"), validation_alias="PIPELINE_AWS_STATE")

    @field_validator("stack_name")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        if not STACK_NAME_PATTERN.match(value):
            raise ValueError(
                "PIPELINE_STACK_NAME must be 3-24 characters: lowercase letters, digits and '-', "
                "starting with a letter (it prefixes bucket, stream, table and role names)"
            )
        return value

    @field_validator("role_arn")
    @classmethod
    def _role_arn(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not ROLE_ARN_PATTERN.match(value):
            raise ValueError(
                "PIPELINE_ROLE_ARN must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/LabRole"
            )
        return value

    @field_validator("lake_bucket", "athena_results_bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not BUCKET_PATTERN.match(value) or ".." in value:
            raise ValueError(f"{value!r} is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if not key or len(key) > 128 or len(tag_value) > 256 or key.lower().startswith("aws:"):
                raise ValueError(f"PIPELINE_TAGS: invalid tag {key!r}={tag_value!r} (key 1-128, value <=256 chars)")
        return value


def load_settings(**values: Any) -> PipelineAwsSettings:
    """The settings, or a ConfigurationError naming each variable at fault and what it must hold (one line each,
    `fleetcore.settings.load_settings`)."""
    return _load_settings(PipelineAwsSettings, ConfigurationError, **values)
