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

from pydantic import Field, SecretStr, field_validator

from fleetcore.setting_groups import AwsAccount, PipelineRole, TopicSetting
from fleetcore.settings import load_settings as _load_settings
from pipeline.aws.errors import ConfigurationError

STACK_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
BUCKET_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class PipelineAwsSettings(AwsAccount, PipelineRole, TopicSetting):
    """Everything `python -m pipeline.aws` needs; see `.env.example`, section Pipeline (the AWS account, the
    role and TOPIC are shared groups: `fleetcore.setting_groups`)."""

    aws_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID",
        description="Credentials (or AWS_PROFILE, or any source boto3 knows; AWS Academy: from 'AWS Details').")
    aws_secret_access_key: SecretStr | None = Field(default=None, validation_alias="AWS_SECRET_ACCESS_KEY",
        description="Secret of AWS_ACCESS_KEY_ID.")
    aws_session_token: SecretStr | None = Field(default=None, validation_alias="AWS_SESSION_TOKEN",
        description="Session token of temporary credentials (AWS Academy).")
    stack_name: str = Field(
        default="weather-fleet",
        validation_alias="PIPELINE_STACK_NAME",
        description="Prefix of every resource name and value of the `weather-fleet:stack` tag.",
    )
    lake_bucket: str | None = Field(default=None, validation_alias="PIPELINE_LAKE_BUCKET",
        description="Data-lake bucket (default <stack>-lake-<account>-<region>); an existing one is kept.")
    athena_results_bucket: str | None = Field(default=None, validation_alias="PIPELINE_ATHENA_RESULTS_BUCKET",
        description="Athena results bucket (default <stack>-athena-<account>-<region>).")
    firehose_buffer_mb: int = Field(default=5, ge=1, le=128, validation_alias="FIREHOSE_BUFFER_MB",
        description="Firehose buffer size hint, MiB (1-128).")
    firehose_buffer_seconds: int = Field(default=60, ge=0, le=900, validation_alias="FIREHOSE_BUFFER_SECONDS",
        description="Firehose buffer interval hint, seconds (0-900).")
    crawler_sample_size: int = Field(default=10, ge=1, le=249, validation_alias="PIPELINE_CRAWLER_SAMPLE_SIZE",
        description="Files the Glue crawler samples per folder (1-249).")
    tags: dict[str, str] = Field(
        default_factory=dict,
        validation_alias="PIPELINE_TAGS",
        description='Extra tags as a JSON object, e.g. {"course":"iot-lab"}; added to the stack tags.',
    )
    state_file: Path = Field(default=Path(".fleet/pipeline-aws.json"), validation_alias="PIPELINE_AWS_STATE",
        description="Record of what the deployment created, so that teardown removes exactly that.")

    @field_validator("stack_name")
    @classmethod
    def _stack_name(cls, value: str) -> str:
        if not STACK_NAME_PATTERN.match(value):
            raise ValueError(
                "PIPELINE_STACK_NAME must be 3-24 characters: lowercase letters, digits and '-', "
                "starting with a letter (it prefixes bucket, stream, table and role names)"
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
