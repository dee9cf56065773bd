"""boto3 clients for the deployment, with clear errors when credentials or the region are missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from pydantic import SecretStr

from fleetcore.aws_errors import botocore_line, explain
from pipeline.aws.errors import ConfigurationError
from pipeline.aws.settings import PipelineAwsSettings

SERVICES = ("s3", "iam", "firehose", "iot", "dynamodb", "glue", "athena")
CREDENTIALS_HELP = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for "
    "AWS Academy, copied from 'AWS Details' in the lab page) or AWS_PROFILE, e.g. in .env, or run `aws configure`"
)


@dataclass
class AwsClients:
    """One client per service, created lazily from one session; `account_id` and `region` are checked."""

    session: boto3.Session
    region: str
    account_id: str
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, service: str) -> Any:
        if service.startswith("_") or service not in SERVICES:
            raise AttributeError(service)
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 8}),
            )
        return self._clients[service]


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def connect(settings: PipelineAwsSettings) -> AwsClients:
    """A session for the configured profile/region, after checking who we are (STS GetCallerIdentity)."""
    try:
        session = boto3.Session(
            profile_name=settings.profile,
            region_name=settings.region,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=_secret(settings.aws_secret_access_key),
            aws_session_token=_secret(settings.aws_session_token),
        )
    except ProfileNotFound as exc:
        raise ConfigurationError(f"AWS_PROFILE={settings.profile!r}: {exc}; run `aws configure --profile`") from exc
    region = session.region_name
    if not region:
        raise ConfigurationError("no AWS region: set AWS_REGION (AWS Academy labs use us-east-1) in .env")
    if session.get_credentials() is None:
        raise ConfigurationError(CREDENTIALS_HELP)
    sts = session.client("sts", region_name=region, endpoint_url=settings.endpoint_url)
    try:
        account_id = sts.get_caller_identity()["Account"]
    except NoCredentialsError as exc:
        raise ConfigurationError(CREDENTIALS_HELP) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigurationError(
            explain(exc, service="sts", resource="the caller identity", region=region)
            or f"AWS rejected the credentials ({code}): refresh AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
            "AWS_SESSION_TOKEN (AWS Academy credentials expire with the lab session)"
        ) from exc
    except BotoCoreError as exc:
        raise ConfigurationError(botocore_line(exc, service="STS", region=region, profile=settings.profile)
                                 ) from exc
    return AwsClients(session=session, region=region, account_id=account_id, endpoint_url=settings.endpoint_url)
