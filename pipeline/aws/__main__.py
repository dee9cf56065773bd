"""`python -m pipeline.aws deploy|destroy|status|crawl|flatten|doctor [--dry-run]`: the pipeline stack on AWS."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from fleetcore.cli import run_command
from pipeline.aws.settings import load_settings
from pipeline.errors import PipelineError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.aws",
        description="Deploy the lab's analytics pipeline to AWS with boto3, show it, or remove exactly what was "
        "deployed. Configuration: the AWS_* and PIPELINE_* / FIREHOSE_* variables (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("deploy", "create what is missing, update what drifted (a second run changes nothing)"),
        ("destroy", "delete what the state file records as created by this stack, newest first"),
        ("status", "show each resource: in-sync, drifted, absent, used (not ours) or foreign (name taken)"),
        ("crawl", "run the Glue crawler once over the lake prefix"),
        ("flatten", "build the flat table (lab step 8) in Athena: DROP TABLE IF EXISTS, then CREATE TABLE AS"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        if name in {"deploy", "destroy"}:
            command.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 done, 2 configuration error, 1 any other pipeline error (one line each on stderr)."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: _run(args), (PipelineError,), "pipeline.aws")


def _run(args: argparse.Namespace) -> int:
    """Run the command; PipelineError (ConfigurationError for configuration) on failure."""
    settings = load_settings()
    from pipeline.aws.stack import PipelineStack

    stack = PipelineStack(settings)
    if args.command == "deploy":
        changes = stack.deploy(dry_run=args.dry_run)
    elif args.command == "destroy":
        changes = stack.destroy(dry_run=args.dry_run)
    elif args.command == "status":
        changes = stack.status()
        error_count = stack.error_objects()
    elif args.command == "flatten":
        ids = stack.flatten()
        print(f"flattened: {stack.names.glue_database}.weather_flat rebuilt in workgroup "
              f"{stack.names.athena_workgroup} (queries {', '.join(ids)})")
        return 0
    else:
        print(f"started crawler {stack.start_crawler()}; tables appear in Glue database "
              f"{stack.names.glue_database}")
        return 0
    names = stack.names
    dry_run = getattr(args, "dry_run", False)
    heading = {"deploy": "plan" if dry_run else "deployed", "destroy": "would destroy" if dry_run
               else "destroyed", "status": "status"}[args.command]
    print(f"{heading}: stack {names.stack} in account {names.account_id}, region {names.region} "
          f"(state: {settings.state_file})")
    for change in changes:
        print(f"  {change}")
    if args.command == "status":
        count = error_count
        where = f"s3://{names.lake_bucket}/{names.error_prefix}"
        print(f"failed records: {'no bucket' if count is None else f'{count} object(s)'} under {where} "
              "(Firehose delivery errors and the rules' error action)")
    if args.command == "deploy" and not dry_run:
        print(f"lake: s3://{names.lake_bucket}/{names.lake_prefix}   Athena workgroup: {names.athena_workgroup}   "
              f"then, once data arrived: python -m pipeline.aws crawl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
