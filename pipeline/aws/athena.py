"""Running one Athena query in the stack's workgroup and database, to completion, and reading its rows.

(`PipelineStack.flatten` has its own copy of the wait loop, written before this module: it can call `run_query`.)
A null cell has no `VarCharValue` in GetQueryResults: it comes back as None. The header is the first row of the
first page only (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html).
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.aws.errors import PipelineAwsError
from pipeline.aws.names import StackNames


def run_query(athena: Any, sql: str, names: StackNames, timeout: float = 600.0,
              wait: float = 1.0) -> list[list[str | None]]:
    """Run `sql` in the stack's workgroup and database; its rows (header left out) as lists of strings/None."""
    query_id = athena.start_query_execution(QueryString=sql, WorkGroup=names.athena_workgroup,
                                            QueryExecutionContext={"Database": names.glue_database})[
        "QueryExecutionId"]
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] == "SUCCEEDED":
            break
        if status["State"] in {"FAILED", "CANCELLED"}:
            raise PipelineAwsError(f"Athena query ({query_id}) {status['State']}: "
                                   f"{status.get('StateChangeReason', '')}; run `make pipeline-crawl TARGET=aws` "
                                   "first if the lake table does not exist yet")
        if time.monotonic() > deadline:
            raise PipelineAwsError(f"Athena query ({query_id}) still {status['State']} after {timeout:.0f}s")
        time.sleep(wait)
    rows: list[list[str | None]] = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]]
    return rows[1:]  # the first row of the first page is the header
