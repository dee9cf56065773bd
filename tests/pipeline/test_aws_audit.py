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
from pipeline.aws.audit import ARRIVAL, AUDIT_SQL, AWS_NOTE, NO_ARRIVAL_NOTE
from pipeline.cli import main
from station import checkpoint as ckpt
from tests.support.pipeline_aws import ACCOUNT, DATABASE, LAKE, REGION, WORKGROUP, aws, client  # noqa: F401

COLUMNS = ("thing_name", "seq", "publisher", "sent_at", "copies", "received_at")
SENT = 1714564800  # 2024-05-01 12:00:00 UTC
# What the audit query returns over the lake: st-1 sent 1..5 (seq 3 stored twice), st-2 1, 2 and 4 (3 lost).
# Arrivals (AWS IoT's timestamp(), Unix ms): st-1's seq s 250 ms after it was sent, but seq 2 after seq 3
# (out of order) and seq 5 70 s late; st-2's 100 ms after.
ARRIVED_MS = {("st-1", 1): 1250, ("st-1", 2): 3500, ("st-1", 3): 3250, ("st-1", 4): 4250, ("st-1", 5): 75000}
ROWS = [("st-1", s, "st-1", f"2024-05-01 12:00:0{s}.000", 2 if s == 3 else 1, SENT * 1000 + ARRIVED_MS["st-1", s])
        for s in range(1, 6)] + \
       [("st-2", s, "st-2", f"2024-05-01 12:00:0{s}.000", 1, SENT * 1000 + s * 1000 + 100) for s in (1, 2, 4)]


def queue_results(rows: list[tuple], columns: tuple[str, ...] = COLUMNS) -> None:
    data = [{"Data": [{"VarCharValue": c} for c in columns]}] + \
           [{"Data": [{"VarCharValue": None if v is None else str(v)} for v in row[:len(columns)]]} for row in rows]
    info = [{"Name": c, "Type": "varchar"} for c in columns]
    athena_backends[ACCOUNT][REGION].query_results_queue.append(QueryResults(rows=data, column_info=info))


def crawled_table(columns: tuple[str, ...]) -> None:
    """The Glue table the crawler made over the lake, with these columns."""
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": DATABASE})
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": "weather", "StorageDescriptor": {
        "Columns": [{"Name": c, "Type": "bigint" if c in ("seq", "received_at") else "string"} for c in columns]},
        "PartitionKeys": [{"Name": "partition_0", "Type": "string"}]})


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
    crawled_table(("thing_name", "seq", "publisher", "sent_at", "received_at"))
    queue_results(ROWS)
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))

    assert main(["audit", "--aws", "--state", str(state), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    executions = list(athena_backends[ACCOUNT][REGION].executions.values())
    assert len(executions) == 1
    assert executions[0].query == AUDIT_SQL.format(database=DATABASE, table="weather", arrival=ARRIVAL)
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
    # from the arrivals: seq 2 of st-1 after seq 3, seq 5 late (> 60 s), latencies in ms
    assert (one["out_of_order"], one["late"], two["out_of_order"], two["late"]) == (1, 1, 0, 0)
    assert one["latency_ms"]["max"] == 70000.0 and two["latency_ms"]["max"] == 100.0
    assert total["latency_ms"]["p50"] == 250.0
    assert json.loads((tmp_path / "lake" / "_audit" / "latest.json").read_text())["source"] == "athena"


def test_a_lake_crawled_before_arrivals_were_recorded_says_what_it_cannot_tell(aws, state: Path, tmp_path: Path,
                                                                                monkeypatch, capsys) -> None:
    """A table without received_at (the lake rule before it recorded arrivals): the query leaves it out, and the
    report says latency, late and out-of-order are unknown and how to get them."""
    client("s3").create_bucket(Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": REGION})
    client("athena").create_work_group(Name=WORKGROUP)
    crawled_table(("thing_name", "seq", "publisher", "sent_at"))
    queue_results(ROWS[:5] + [("st-2", s, "st-2", None, 1) for s in range(1, 5)], COLUMNS[:5])
    monkeypatch.setenv("LAKE_DIR", str(tmp_path / "lake"))
    assert main(["audit", "--aws", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    [execution] = athena_backends[ACCOUNT][REGION].executions.values()
    assert execution.query == AUDIT_SQL.format(database=DATABASE, table="weather", arrival="")
    assert f"note: {AWS_NOTE}" in out and f"note: {NO_ARRIVAL_NOTE}" in out
    assert "end-to-end latency (ms): p50 -, p95 -, p99 -, max -" in out
    assert out.rstrip().endswith("nothing forged or malformed was stored")


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
