"""`pipeline audit --aws`: the audit computed from Athena over the S3 lake, against moto.

What is tested, and how: moto does not run Athena SQL; its GetQueryResults returns the rows queued in
`athena_backends[...].query_results_queue` (moto's documented way, moto/athena/models.py `get_query_results`).
So the test queues what Athena would return for the audit query over a known lake, and checks (1) the query
sent (SQL, workgroup, database) and (2) everything the audit makes of those rows and of the real S3 objects under
quarantine/ and errors/ (moto's S3 keeps them as AWS does): expected, stored, missing seqs, duplicates, forged,
quarantined, per-fault outcomes, the verdict and the exit code. The SQL itself is checked for its shape only,
not run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.athena.models import QueryResults, athena_backends

from fleetcore.faults.truth import GroundTruthLog
from pipeline.aws.audit import AWS_NOTE, AUDIT_SQL
from pipeline.cli import main
from station import checkpoint as ckpt
from tests.support.pipeline_aws import ACCOUNT, DATABASE, LAKE, REGION, WORKGROUP, aws, client  # noqa: F401

COLUMNS = ("thing_name", "seq", "publisher", "sent_at", "copies")
# What the audit query returns over the lake: st-1 sent 1..5 (seq 3 stored twice), st-2 1, 2 and 4 (3 lost).
ROWS = [("st-1", s, "st-1", f"2024-05-01 12:00:0{s}.000", 2 if s == 3 else 1) for s in range(1, 6)] + \
       [("st-2", s, "st-2", f"2024-05-01 12:00:0{s}.000", 1) for s in (1, 2, 4)]


def queue_results(rows: list[tuple]) -> None:
    data = [{"Data": [{"VarCharValue": c} for c in COLUMNS]}] + \
           [{"Data": [{"VarCharValue": str(v)} for v in row]} for row in rows]
    info = [{"Name": c, "Type": "varchar"} for c in COLUMNS]
    athena_backends[ACCOUNT][REGION].query_results_queue.append(QueryResults(rows=data, column_info=info))


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    for thing, seq in (("st-1", 5), ("st-2", 4)):
        ckpt.save(ckpt.checkpoint_path(folder, thing), ckpt.Checkpoint(
            thing_name=thing, data_file="x.gz", fingerprint="sha256:0", line=seq, seq=seq))
    truth = GroundTruthLog(folder / "st-1.faults.jsonl")
    truth.record("st-1", "duplicate", 3, {"copies": 1}, rule=0)
    truth.record("st-1", "impersonate", 5, {"victim": "st-2"}, rule=1)
    truth.flush()
    return folder


def test_the_audit_from_athena_and_the_bucket(aws, state: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": REGION})
    forged = {"thing_name": "st-2", "seq": 5, "publisher": "st-1"}
    s3.put_object(Bucket=LAKE, Key="quarantine/sensor/weather/2024/05/01/12/st-1-0f8b7c4e-1a2b-4c3d-9e8f-"
                  "0123456789ab.json", Body=json.dumps(forged).encode())
    for n in range(2):
        s3.put_object(Bucket=LAKE, Key=f"errors/iot-rules/lake/{n}.json", Body=b"{}")
    client("athena").create_work_group(Name=WORKGROUP)
    queue_results(ROWS)
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))

    assert main(["audit", "--aws", "--state", str(state), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    executions = list(athena_backends[ACCOUNT][REGION].executions.values())
    assert len(executions) == 1
    assert executions[0].query == AUDIT_SQL.format(database=DATABASE, table="weather")
    assert executions[0].workgroup.name == WORKGROUP and executions[0].context["Database"] == DATABASE
    assert doc["source"] == "athena" and doc["notes"] == [AWS_NOTE] and doc["failed"] is True
    one, two = doc["stations"]
    assert (one["thing"], one["expected"], one["stored"], one["missing"], one["duplicates_stored"]) == \
        ("st-1", 5, 5, 0, 1)
    assert (two["thing"], two["expected"], two["stored"], two["missing"], two["missing_seqs"]) == \
        ("st-2", 4, 3, 1, [[3, 3]])
    assert one["quarantined"] == 1 and one["forged_stored"] == two["forged_stored"] == 0
    assert one["faults"] == {"duplicate": {"injected": 1, "stored": 1, "rejected": 0},
                             "impersonate": {"injected": 1, "stored": 0, "rejected": 1}}
    total = doc["total"]
    assert (total["expected"], total["stored"], total["missing"], total["errors"]) == (9, 8, 1, 2)
    assert total["latency_ms"] == {"p50": None, "p95": None, "p99": None, "max": None}
    assert json.loads((tmp_path / "lake" / "_audit" / "latest.json").read_text())["source"] == "athena"


def test_the_table_view_names_what_athena_cannot_tell(aws, state: Path, tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    client("s3").create_bucket(Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": REGION})
    client("athena").create_work_group(Name=WORKGROUP)
    queue_results(ROWS[:5] + [("st-2", s, "st-2", None, 1) for s in range(1, 5)])
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))
    assert main(["audit", "--aws", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert f"note: {AWS_NOTE}" in out and out.rstrip().endswith("nothing forged or malformed was stored")


def test_a_failed_query_names_the_fix(aws) -> None:
    """Moto's queries always succeed; a Stubber answers as Athena does for a query on a table not crawled yet."""
    import boto3
    from botocore.stub import Stubber

    from pipeline.aws.athena import run_query
    from pipeline.aws.errors import PipelineAwsError

    athena = boto3.client("athena", region_name=REGION)
    names = type("Names", (), {"athena_workgroup": WORKGROUP, "glue_database": DATABASE})()
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-1"})
        stub.add_response("get_query_execution", {"QueryExecution": {"Status": {
            "State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: line 1:80: Table 'weather' does not exist"}}})
        with pytest.raises(PipelineAwsError, match=r"Athena query \(q-1\) FAILED: TABLE_NOT_FOUND.*make "
                                                   r"pipeline-crawl TARGET=aws"):
            run_query(athena, "SELECT 1", names, wait=0)  # type: ignore[arg-type]
