"""Running one Athena query in the stack's workgroup and database, to completion, and reading its rows.

`execute` runs a statement to completion (`PipelineStack.flatten` uses it); `run_query` also reads the rows.
A null cell has no `VarCharValue` in GetQueryResults: it comes back as None. The header is the first row of the
first page only (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html).
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.aws.errors import PipelineAwsError
from pipeline.aws.names import StackNames


def execute(athena: Any, sql: str, names: StackNames, timeout: float = 600.0, wait: float = 1.0,
            label: str = "") -> str:
    """Run `sql` in the stack's workgroup and database until it SUCCEEDED; its query execution id.

    A FAILED or CANCELLED query, or one still running after `timeout` seconds, raises PipelineAwsError naming
    `label` (the shipped query's name) and the id."""
    query_id = athena.start_query_execution(QueryString=sql, WorkGroup=names.athena_workgroup,
                                            QueryExecutionContext={"Database": names.glue_database})[
        "QueryExecutionId"]
    what = f"{label} ({query_id})" if label else f"({query_id})"
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            return query_id
        if status["State"] in {"FAILED", "CANCELLED"}:
            raise PipelineAwsError(f"Athena query {what} {status['State']}: "
                                   f"{status.get('StateChangeReason', '')}; run `make pipeline-crawl TARGET=aws` "
                                   "first if the lake table does not exist yet")
        if time.monotonic() > deadline:
            raise PipelineAwsError(f"Athena query {what} still {status['State']} after {timeout:.0f}s")
        time.sleep(wait)


def run_query(athena: Any, sql: str, names: StackNames, timeout: float = 600.0,
              wait: float = 1.0) -> list[list[str | None]]:
    """Run `sql` in the stack's workgroup and database; its rows (header left out) as lists of strings/None."""
    query_id = execute(athena, sql, names, timeout, wait)
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]]
    return rows[1:]  # the first row of the first page is the header
