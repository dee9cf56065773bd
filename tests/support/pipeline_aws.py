"""Fixtures and helpers for the AWS deployment tests: boto3 against moto's in-process `mock_aws`.

Test modules import the fixtures they use (`from tests.support.pipeline_aws import aws, ...`) so nothing here
affects the local pipeline tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from pipeline.aws.names import TAG_STACK
from pipeline.aws.session import SERVICES, AwsClients
from pipeline.aws.settings import PipelineAwsSettings
from pipeline.aws.stack import PipelineStack

REGION = "eu-west-3"  # not us-east-1, so bucket creation needs its LocationConstraint
ACCOUNT = "123456789012"  # moto's default account
# Names a default deployment (stack "weather-fleet") gives its resources in moto's account and REGION.
LAKE = f"weather-fleet-lake-{ACCOUNT}-{REGION}"
RESULTS = f"weather-fleet-athena-{ACCOUNT}-{REGION}"
STREAM = "weather-fleet-lake"
TABLE = "weather-fleet-cold-readings"
DATABASE = "weather_fleet"
WORKGROUP = "weather-fleet"
#: Settings of the deployments under test (non-default buffering, one extra tag) and the tags they give.
SETTINGS: dict[str, Any] = {"FIREHOSE_BUFFER_MB": 3, "FIREHOSE_BUFFER_SECONDS": 120,
                            "PIPELINE_TAGS": {"course": "iot-lab"}}
EXPECTED_TAGS = {TAG_STACK: "weather-fleet", "managed-by": "weather-fleet", "course": "iot-lab"}


def tags_of(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


MUTATING_PREFIXES = ("Create", "Put", "Update", "Delete", "Tag", "Untag", "Replace", "Start", "Stop", "Attach",
                     "Detach", "Enable", "Disable")


def _fake_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN",
                     "PIPELINE_ROLE_ARN", "PIPELINE_LAKE_BUCKET", "PIPELINE_ATHENA_RESULTS_BUCKET",
                     "PIPELINE_STACK_NAME", "PIPELINE_TAGS", "FIREHOSE_BUFFER_MB", "FIREHOSE_BUFFER_SECONDS",
                     "PIPELINE_CRAWLER_SAMPLE_SIZE", "PIPELINE_AWS_STATE", "TOPIC"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region in the environment, every AWS call served by moto in-process."""
    _fake_environment(monkeypatch)
    with mock_aws():
        yield


@pytest.fixture(scope="module")
def aws_module() -> Iterator[None]:
    """The same for a whole module: for read-only tests sharing one deployment."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _fake_environment(monkeypatch)
        with mock_aws():
            yield


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / ".fleet" / "pipeline-aws.json"


def make_settings(state_path: Path, **values: Any) -> PipelineAwsSettings:
    """Settings from the (patched) environment plus `values` given by variable name, never from a `.env`."""
    return PipelineAwsSettings(_env_file=None, PIPELINE_AWS_STATE=state_path, **values)


def make_stack(state_path: Path, **values: Any) -> PipelineStack:
    return PipelineStack(make_settings(state_path, **values), wait=0)


def client(service: str) -> Any:
    """An independent client, to check what the deployment did without going through its code."""
    return boto3.client(service, region_name=REGION)


class CallLog:
    """Every API operation the stack's clients send, with its arguments as given, in order.

    Recorded from botocore's `before-parameter-build` event; nothing is changed or answered here.
    """

    def __init__(self, clients: AwsClients) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        for service in SERVICES:
            getattr(clients, service).meta.events.register("before-parameter-build", self._record)

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, params))

    def operations(self) -> list[str]:
        return [f"{service}:{name}" for service, name, _ in self.calls]

    def mutating(self) -> list[str]:
        return [f"{service}:{name}" for service, name, _ in self.calls if name.startswith(MUTATING_PREFIXES)]

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [params for _, name, params in self.calls if name == operation]


class OperationStubber(Stubber):
    """A botocore Stubber answering only `operations` of a client; every other call still goes to moto.

    Used for the few calls moto does not implement (glue UpdateCrawler, athena UpdateWorkGroup /
    UpdateNamedQuery / DeleteNamedQuery): the request parameters are still checked against the service model and
    against `expected_params`, and the queued responses are validated like any Stubber response.
    """

    def __init__(self, client: Any, *operations: str) -> None:
        super().__init__(client)
        service = client.meta.service_model.service_id.hyphenize()
        self._events = [(f"{service}.{operation}") for operation in operations]

    def activate(self) -> None:
        for event in self._events:
            self.client.meta.events.register_first(f"before-parameter-build.{event}", self._assert_expected_params,
                                                   unique_id=f"{self._expected_params_event_id}-{event}")
            self.client.meta.events.register(f"before-call.{event}", self._get_response_handler,
                                             unique_id=f"{self._event_id}-{event}")

    def deactivate(self) -> None:
        for event in self._events:
            self.client.meta.events.unregister(f"before-parameter-build.{event}", self._assert_expected_params,
                                               unique_id=f"{self._expected_params_event_id}-{event}")
            self.client.meta.events.unregister(f"before-call.{event}", self._get_response_handler,
                                               unique_id=f"{self._event_id}-{event}")
