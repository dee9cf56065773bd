"""`python -m pipeline.aws` end to end, in a subprocess, against a moto server reached through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from pipeline.aws.__main__ import main
from pipeline.queries import QUERY_NAMES
from tests.support.pipeline_aws import REGION, TABLE, aws, client

__all__ = ["aws"]

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCES = 13 + len(QUERY_NAMES)  # buckets 2, roles 3, stream, table, rules 3, database, crawler, workgroup


@pytest.fixture
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        yield endpoint
    finally:
        server.stop()


def run_cli(endpoint: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "PIPELINE_", "FIREHOSE_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION,
               AWS_ENDPOINT_URL=endpoint, PYTHONPATH=str(REPO_ROOT), FIREHOSE_BUFFER_SECONDS="30")
    return subprocess.run([sys.executable, "-m", "pipeline.aws", *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.mark.slow  # end to end in subprocesses: `make test` runs it, `make test-quick` does not
def test_deploy_twice_and_destroy_in_a_subprocess(moto_server: str, tmp_path: Path) -> None:
    deployed = run_cli(moto_server, tmp_path, "deploy")
    assert deployed.returncode == 0, deployed.stderr
    assert "deployed: stack weather-fleet in account 123456789012, region eu-west-3" in deployed.stdout
    assert deployed.stdout.count("create ") == RESOURCES
    assert (tmp_path / ".fleet" / "pipeline-aws.json").is_file()
    firehose = boto3.client("firehose", region_name=REGION, endpoint_url=moto_server,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    hints = firehose.describe_delivery_stream(DeliveryStreamName="weather-fleet-lake")["DeliveryStreamDescription"][
        "Destinations"][0]["ExtendedS3DestinationDescription"]["BufferingHints"]
    assert hints == {"SizeInMBs": 5, "IntervalInSeconds": 30}

    again = run_cli(moto_server, tmp_path, "deploy")
    assert again.returncode == 0 and again.stdout.count("unchanged ") == RESOURCES, again.stdout + again.stderr

    destroyed = run_cli(moto_server, tmp_path, "destroy")
    assert destroyed.returncode == 0, destroyed.stderr
    assert destroyed.stdout.count("delete ") == RESOURCES
    assert not (tmp_path / ".fleet" / "pipeline-aws.json").exists()
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    assert TABLE not in dynamodb.list_tables()["TableNames"]


def test_dry_runs_status_and_crawl(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    state = tmp_path / ".fleet" / "pipeline-aws.json"
    assert main(["deploy", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan: stack weather-fleet") and out.count("create ") == RESOURCES
    assert not state.exists()

    assert main(["deploy"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.count("in-sync ") == RESOURCES
    lake = f"weather-fleet-lake-123456789012-{REGION}"
    assert f"failed records: 0 object(s) under s3://{lake}/errors/" in out
    s3 = client("s3")  # what Firehose and the rules' error action would write there
    s3.put_object(Bucket=lake, Key="errors/iot-rules/weather_fleet_to_lake/1-a.json", Body=b"{}")
    s3.put_object(Bucket=lake, Key="errors/processing-failed/2026/01/01/00/x.gz", Body=b"")
    s3.put_object(Bucket=lake, Key="sensor/weather/2026/01/01/00/ok.gz", Body=b"")
    assert main(["status"]) == 0
    assert f"failed records: 2 object(s) under s3://{lake}/errors/" in capsys.readouterr().out
    assert main(["crawl"]) == 0
    assert "started crawler weather-fleet-lake" in capsys.readouterr().out
    assert client("glue").get_crawler(Name="weather-fleet-lake")["Crawler"]["State"] == "RUNNING"

    before = state.read_bytes()
    assert main(["destroy", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("would destroy") and out.count("delete ") == RESOURCES
    assert state.read_bytes() == before


def test_flatten_drops_then_creates_in_the_workgroup(aws: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Run twice (idempotent): each time DROP TABLE IF EXISTS, then a CTAS with Athena's documented syntax."""
    from tests.support.pipeline_aws import CallLog, make_stack

    monkeypatch.chdir(tmp_path)
    state = tmp_path / ".fleet" / "pipeline-aws.json"
    make_stack(state).deploy()
    stack = make_stack(state)
    log = CallLog(stack.clients)
    stack.flatten()
    stack.flatten()
    sent = [p["QueryString"] for p in log.params("StartQueryExecution")]
    assert len(sent) == 4
    for drop, create in (sent[0:2], sent[2:4]):
        assert drop.strip().endswith("DROP TABLE IF EXISTS weather_fleet.weather_flat")
        assert '\nCREATE TABLE "weather_fleet"."weather_flat" AS\n' in create and "EXISTS \"" not in create
    assert {p["WorkGroup"] for p in log.params("StartQueryExecution")} == {"weather-fleet"}
    assert main(["flatten"]) == 0
    assert "flattened: weather_fleet.weather_flat" in capsys.readouterr().out
