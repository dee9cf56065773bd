"""boto3 clients for IoT, S3 and STS with adaptive retries, and the one clear error when credentials are missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from provisioning.aws.settings import AwsSettings
from provisioning.errors import ConfigError


class AwsSetupError(ConfigError):
    """Configuration is missing or wrong; the message names the variable and the fix."""


NO_CREDENTIALS = ("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                  "(or AWS_PROFILE), or run `aws configure`")
NO_REGION = "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or run `aws configure`"


@dataclass
class AwsClients:
    """The clients one run uses; tests may swap in stubbed ones."""

    iot: Any
    s3: Any
    sts: Any
    region: str


def botocore_config(settings: AwsSettings) -> Config:
    """Adaptive retries (client-side rate limiting on throttling) and a pool as large as the concurrency."""
    return Config(retries={"mode": "adaptive", "max_attempts": settings.max_attempts},
                  max_pool_connections=max(10, settings.concurrency + 2))


def make_clients(settings: AwsSettings) -> AwsClients:
    """Clients for the configured profile/region/endpoint; AwsSetupError when region or credentials are missing."""
    try:
        session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
    except BotoCoreError as exc:  # ProfileNotFound and friends
        raise AwsSetupError(f"AWS_PROFILE={settings.profile!r}: {exc}; run `aws configure --profile {settings.profile}`"
                            ) from exc
    region = session.region_name
    if not region:
        raise AwsSetupError(NO_REGION)
    if session.get_credentials() is None:
        raise AwsSetupError(NO_CREDENTIALS)
    config = botocore_config(settings)
    kwargs: dict[str, Any] = {"region_name": region, "config": config}
    if settings.endpoint_url:
        kwargs["endpoint_url"] = settings.endpoint_url
    return AwsClients(iot=session.client("iot", **kwargs), s3=session.client("s3", **kwargs),
                      sts=session.client("sts", **kwargs), region=region)
