"""`pipeline audit --aws`: the audit of `pipeline.audit`, over the S3 lake through Athena (issue 20).

What it reads:
- the lake table the crawler made (`<database>.<table>` of `StackNames`), with one Athena query (AUDIT_SQL):
  every stored (thing_name, seq, publisher) with its copies and earliest sent_at, in the stack's workgroup;
- `quarantine/` of the lake bucket (the quarantine rule's objects: the message plus its `publisher`), each read
  so a forgery (a message naming another thing) is told from one naming none;
- `errors/` of the lake bucket, counted (Firehose and rule failures are not per publisher: total only).

Arrival times: the lake rule adds `received_at` (`timestamp()`, when AWS IoT received the message, Unix ms), so
latency, late and out-of-order arrivals are computed from the earliest copy's. A lake crawled before the rule
added it has no such column (the Glue table says so): the query then leaves it out, and latency, late and
out-of-order are reported as unknown, with a note. Expected, stored, missing, duplicates stored, quarantined,
forged and per-fault outcomes are always computed.
The query returns one row per distinct stored message (paged by GetQueryResults, 1,000 rows a page): fine for a
lab fleet; for millions of messages a gaps query (`lag(seq)`) would keep the result small (a follow-up).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from botocore.exceptions import ClientError

from fleetcore.aws_errors import explain
from pipeline.audit import Audit, LakeView, audit_view
from pipeline.aws.athena import run_query
from pipeline.aws.errors import AccessError, PipelineAwsError
from pipeline.aws.names import StackNames

AUDIT_SQL = ('SELECT thing_name, CAST(seq AS bigint) AS seq, publisher, CAST(min(sent_at) AS varchar) AS sent_at, '
             'count(*) AS copies{arrival} FROM "{database}"."{table}" GROUP BY thing_name, CAST(seq AS bigint), '
             'publisher')
ARRIVAL = ", CAST(min(received_at) AS bigint) AS received_at"  # Unix ms, the lake rule's timestamp()
ARRIVAL_COLUMN = "received_at"
AWS_NOTE = "Athena over the S3 lake: errors/ is counted in total only"
NO_ARRIVAL_NOTE = ("the lake table has no received_at column (crawled before the lake rule recorded arrivals: run "
                   "`make pipeline TARGET=aws`, then `make pipeline-crawl TARGET=aws` once new data has arrived), so "
                   "latency, late and out-of-order arrivals are not computed")


def audit_sql(names: StackNames, with_arrival: bool) -> str:
    return AUDIT_SQL.format(database=names.glue_database, table=names.glue_table,
                            arrival=ARRIVAL if with_arrival else "")


def has_arrival_column(glue: Any, names: StackNames) -> bool:
    """Whether the crawled lake table has `received_at` (False when the table cannot be read: the query then
    says what is wrong)."""
    try:
        table = glue.get_table(DatabaseName=names.glue_database, Name=names.glue_table)["Table"]
    except ClientError:
        return False
    columns = table.get("StorageDescriptor", {}).get("Columns", []) + table.get("PartitionKeys", [])
    return any(c.get("Name") == ARRIVAL_COLUMN for c in columns)


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


def _publisher_of_key(key: str) -> str:
    """The quarantine key's `${clientid()}-${newuuid()}.json` file name -> the client id."""
    stem = key.rsplit("/", 1)[-1].removesuffix(".json")
    return stem.rsplit("-", 5)[0] if stem.count("-") >= 5 else stem


def quarantine_records(s3: Any, names: StackNames) -> list[dict]:
    """Each quarantined object as {"publisher", "raw"} (raw: the message as the quarantine rule wrote it)."""
    records = []
    for key in _keys(s3, names.lake_bucket, names.quarantine_prefix):
        raw = s3.get_object(Bucket=names.lake_bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        publisher = doc.get("publisher") if isinstance(doc, dict) else None
        records.append({"publisher": publisher or _publisher_of_key(key), "raw": raw})
    return records


def athena_view(athena: Any, s3: Any, names: StackNames, timeout: float = 600.0, wait: float = 1.0,
                with_arrival: bool = True) -> tuple[LakeView, int]:
    """The S3 lake as the audit needs it (with arrival times when `with_arrival`), and the count of objects under
    errors/."""
    arrivals: dict[str, dict[int, float]] = defaultdict(dict)
    try:
        rows: list[tuple[str, int, str | None, str | None]] = []
        for thing, seq, publisher, sent_at, copies, *arrival in run_query(athena, audit_sql(names, with_arrival),
                                                                          names, timeout, wait):
            if thing is None or seq is None:
                continue
            rows += [(thing, int(seq), publisher, sent_at)] * int(copies or 1)
            if arrival and arrival[0] is not None and publisher == thing:  # min(received_at): the first copy's
                arrivals[thing][int(seq)] = int(arrival[0]) / 1000
        quarantine = quarantine_records(s3, names)
        errors = len(_keys(s3, names.lake_bucket, names.error_prefix))
    except ClientError as exc:
        operation = getattr(exc, "operation_name", "") or ""
        service = "athena" if "Query" in operation else "s3"
        line = explain(exc, service=service, resource=f"s3://{names.lake_bucket}" if service == "s3"
                       else f"Athena workgroup {names.athena_workgroup}", region=names.region)
        if line is None:
            raise PipelineAwsError(f"the AWS audit failed: {service}:{operation}: {exc}") from exc
        raise AccessError(line) from exc
    return LakeView(rows, dict(arrivals), Counter(), quarantine), errors


def run_aws_audit(state_dirs: list, late_after: float, settings: Any = None, clients: Any = None,
                  wait: float = 1.0) -> Audit:
    """The audit of the S3 lake (the stack of `settings`, default from the environment) against `state_dirs`."""
    from pipeline.aws.session import connect
    from pipeline.aws.settings import load_settings

    settings = settings or load_settings()
    clients = clients or connect(settings)
    names = StackNames.build(settings, account_id=clients.account_id, region=clients.region)
    with_arrival = has_arrival_column(clients.glue, names)
    view, errors = athena_view(clients.athena, clients.s3, names, wait=wait, with_arrival=with_arrival)
    audit = audit_view(view, state_dirs, late_after)
    audit.total.errors = errors
    audit.source = "athena"
    audit.notes = ([AWS_NOTE] if with_arrival else [AWS_NOTE, NO_ARRIVAL_NOTE]) + audit.notes
    return audit
