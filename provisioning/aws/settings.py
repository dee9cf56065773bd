"""AWS settings, read from the environment / `.env` by pydantic-settings.

Region, profile and endpoint are the standard AWS variables (the same ones the AWS CLI and boto3 read);
the `IOT_*` variables shape the fleet.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from fleetcore.setting_groups import DEFAULT_SPEEDUP, AwsAccount, Pacing, PipelineRole, TopicSetting
from fleetcore.target import Target


class RegistrationMode(StrEnum):
    """`IOT_REGISTRATION_MODE`."""

    DIRECT = "direct"  # one API call per step, in parallel
    BULK = "bulk"      # the lab's StartThingRegistrationTask


class CertificateMode(StrEnum):
    """`IOT_CERTIFICATE_MODE`."""

    CSR = "csr"            # key made locally, CreateCertificateFromCsr
    AWS_KEYS = "aws-keys"  # CreateKeysAndCertificate


class AwsSettings(AwsAccount, PipelineRole, Pacing, TopicSetting):
    """Everything `provisioning.aws` reads from the environment (`provisioning.settings.load(AwsSettings)`); the
    shared groups come from `fleetcore.setting_groups` (the pacing with its rule, as the stations read it)."""

    policy_name: str = Field(default="weather-fleet-station", validation_alias="IOT_POLICY_NAME",
        description="The stations' policy (`<name>-hello` for the hello identity).")
    thing_type: str = Field(default="weather-station", validation_alias="IOT_THING_TYPE",
                            description="Thing type for every station; `none` = no thing type (then each thing "
                            "carries 3 attributes, the most AWS allows without a type).")
    thing_group: str = Field(default="weather-fleet", validation_alias="IOT_THING_GROUP",
                             description="Thing group for every station; `none` = no group.")
    registration_mode: RegistrationMode = Field(default=RegistrationMode.DIRECT,
                                                validation_alias="IOT_REGISTRATION_MODE",
        description="`direct` (one API call per step, in parallel) or `bulk` (the lab's StartThingRegistrationTask).")
    certificate_mode: CertificateMode = Field(
        default=CertificateMode.CSR, validation_alias="IOT_CERTIFICATE_MODE",
        description="csr: key made locally, CreateCertificateFromCsr; aws-keys: CreateKeysAndCertificate.")
    bulk_bucket: str | None = Field(default=None, validation_alias="IOT_BULK_BUCKET",
        description="Bulk mode: bucket for the parameters file.")
    bulk_role_arn: str | None = Field(default=None, validation_alias="IOT_BULK_ROLE_ARN",
        description="Bulk mode: role IoT assumes to read the parameters file (the lab's LabRole).")
    bulk_timeout_seconds: float = Field(default=1800.0, gt=0, validation_alias="IOT_BULK_TIMEOUT_SECONDS",
        description="Bulk mode: give up waiting for the task after this many seconds (register again collects it).")
    bulk_poll_seconds: float = Field(default=5.0, ge=0, validation_alias="IOT_BULK_POLL_SECONDS",
        description="Bulk mode: seconds between task status polls.")
    bulk_max_task_bytes: int = Field(
        default=1024 * 1024, ge=1024, validation_alias="IOT_BULK_MAX_TASK_BYTES",
        description="Largest parameters file per registration task; a larger fleet is split into several tasks.")
    policy_delete_wait_seconds: float = Field(
        default=330.0, ge=0, validation_alias="IOT_POLICY_DELETE_WAIT_SECONDS",
        description="How long unregister retries DeletePolicy while AWS still sees it attached (up to 5 min).")
    concurrency: int = Field(default=8, ge=1, le=64, validation_alias="IOT_CONCURRENCY",
        description="Parallel API calls during register/unregister.")
    max_attempts: int = Field(default=10, ge=1, validation_alias="IOT_MAX_ATTEMPTS",
                              description="botocore adaptive-retry attempts per call.")

    price_per_million_messages: float = Field(default=1.0, ge=0, validation_alias="PRICE_PER_MILLION_MESSAGES",
        description="USD per million messages, for `make cost` (each weather message is < 5 KB: one message).")
    price_per_million_connection_minutes: float = Field(
        default=0.08, ge=0, validation_alias="PRICE_PER_MILLION_CONNECTION_MINUTES",
        description="USD per million connection-minutes, for `make cost`.")
    @field_validator("thing_type", "thing_group")
    @classmethod
    def _none(cls, value: str) -> str:
        """`none` turns the type/group off (an empty value is ignored, so it means the default)."""
        return "" if value.strip().lower() == "none" else value

    @model_validator(mode="after")
    def _aws_max_rate(self) -> AwsSettings:
        """The fleet runs on aws: MAX_RATE's default is IoT Core's limit per connection (`Pacing.max_rate_on`)."""
        self.max_rate = self.max_rate_on(Target.AWS)
        return self

    @property
    def replay_speed(self) -> float:
        """SPEEDUP for the estimates: the stations' (`Pacing`); unused in INTERVAL mode, where INTERVAL decides."""
        return self.effective_speedup or DEFAULT_SPEEDUP
