"""Fixtures for the AWS provisioning tests: one moto server per session, a clean account per test."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from provisioning.aws.__main__ import build_parser
from provisioning.aws.session import AwsClients, make_clients
from provisioning.aws.settings import AwsSettings
from tests.support.moto_iot import MotoEndpoint

AWS_VARS = ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
            "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[MotoEndpoint]:
    endpoint = MotoEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def aws_env(moto_endpoint: MotoEndpoint, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MotoEndpoint:
    """A fresh moto account, the standard AWS variables pointing at it, no .env, no ~/.aws."""
    moto_endpoint.reset()
    for var in AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for k, v in moto_endpoint.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    return moto_endpoint


@pytest.fixture
def iot(aws_env: MotoEndpoint):
    """An independent boto3 IoT client (the 'someone else' / the checker)."""
    return boto3.client("iot")


def clients() -> AwsClients:
    return make_clients(AwsSettings())


def args(*argv: str) -> argparse.Namespace:
    """Parse a `python -m provisioning.aws ...` command line."""
    return build_parser().parse_args(list(argv))
