"""`pipeline` command: the lab's analytics chain on one machine.

    pipeline lake         run the lake writer (subscribe with the monitor identity, write LAKE_DIR)
    pipeline cold         show the cold-readings table (--backfill: apply the rule to the whole lake)
    pipeline sql NAME     print a shipped query in a dialect (--run: run it over the lake with DuckDB)
    pipeline query [SQL]  run the lab's queries (or SQL) over the lake with DuckDB
    pipeline dashboard    write the self-contained HTML dashboard
    pipeline audit        compare the lake (--aws: the S3 lake, with Athena) with what the fleet acknowledged and
                          the faults it injected
    pipeline dashboard-live   serve the live dashboard (map, rates, latency) on 127.0.0.1
    pipeline broker-metrics   export the broker's $SYS topics as Prometheus metrics
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from fleetcore.cli import run_command
from pipeline import queries
from pipeline.errors import PipelineError
from pipeline.run_record import runs_dir, write_run_record
from pipeline.settings import PipelineSettings, load

log = logging.getLogger("pipeline")


def _settings() -> PipelineSettings:
    return load()


def cmd_lake(args: argparse.Namespace) -> int:
    from pipeline.cold import ColdTable
    from pipeline.lake import LakeWriter
    from pipeline.lake_metrics import LakeMetrics
    from pipeline.monitor import LakeSubscriber, serve

    s = _settings()
    cold = ColdTable(s.cold_db_path) if s.cold_rule_enabled else None
    metrics = LakeMetrics(s.lake_client_id) if s.lake_metrics_port else None
    writer = LakeWriter(s.lake_dir, prefix=s.lake_prefix, buffer_bytes=s.lake_buffer_bytes,
                        buffer_seconds=s.lake_buffer_seconds, cold=cold, require_publisher=s.lake_require_publisher,
                        metrics=metrics)
    subscriber = LakeSubscriber(writer, host=s.mqtt_host, port=s.mqtt_port, identity_dir=s.monitor_identity_dir,
                                client_id=s.lake_client_id, topic=s.topic,
                                session_expiry_seconds=s.lake_session_expiry_seconds)
    if metrics is not None:
        metrics.attach(writer, lambda: subscriber.received)
        metrics.serve(s.lake_metrics_port)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("lake writer: %s:%d %s -> %s (flush at %d bytes or %.1f s)", s.mqtt_host, s.mqtt_port, s.topic,
             s.lake_root, s.lake_buffer_bytes, s.lake_buffer_seconds)
    started_at = datetime.now(timezone.utc)
    serve(writer, subscriber, stop)
    counts = {"received": subscriber.received, "duplicates_dropped": writer.duplicates,
              "conflicts_kept": writer.conflicts, "quarantined": writer.quarantined, "errors": writer.errors,
              "cold_rule_failures": writer.cold_failures}
    try:
        record = write_run_record(s.lake_dir, started_at, counts, client_id=s.lake_client_id, topic=s.topic)
        kept = f" (kept in {record})"
    except OSError as exc:
        kept = f" (could not be kept in {runs_dir(s.lake_dir)}: {exc.strerror or exc})"
    log.info("lake writer stopped: %d received, %d duplicates dropped, %d conflicts kept, %d quarantined, %d errors%s",
             subscriber.received, writer.duplicates, writer.conflicts, writer.quarantined, writer.errors, kept)
    if writer.cold_failures:
        log.error("the cold-readings rule failed for %d messages: run `pipeline cold --backfill`", writer.cold_failures)
    return 0


def cmd_cold(args: argparse.Namespace) -> int:
    from pipeline.cold import ColdTable, backfill_from_lake
    from pipeline.lake import lake_files

    s = _settings()
    if args.rule:
        print(queries.load_rule("cold_readings", args.rule, topic=s.topic))
        return 0
    table = ColdTable(s.cold_db_path)
    try:
        if args.backfill:
            written = backfill_from_lake(table, lake_files(s.lake_root))
            print(f"cold-readings rule applied to the lake: {written} item(s) put")
        items = table.items()
        print(f"{s.cold_db_path}: {len(items)} cold reading(s) below -5 °C")
        for item in items[: args.limit]:
            print(f"  {item['weather_station']}  {item['time']}  {item.get('air_temperature_value')} °C")
    finally:
        table.close()
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    s = _settings()
    if args.list or not args.name:
        for name in queries.QUERY_NAMES + queries.DASHBOARD_QUERY_NAMES:
            print(f"{name:26} {queries.query_description(name)}")
        for name in queries.RULE_NAMES:
            print(f"{name:26} topic rule (AWS IoT SQL); print it with `pipeline cold --rule iot`")
        return 0
    text = queries.load_query(args.name, args.dialect, **s.query_names())
    if not args.run:
        print(text, end="")
        return 0
    from pipeline.query import format_result, open_warehouse, run_named

    con = open_warehouse(s)
    try:
        print(format_result(run_named(con, s, args.name)))
    finally:
        con.close()
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from pipeline.query import format_result, open_warehouse, run_lab, run_sql

    s = _settings()
    con = open_warehouse(s)
    try:
        if args.schema:
            table = f'"{s.lake_database}"."{s.lake_table}"'
            results = [run_sql(con, f"DESCRIBE {table}", f"schema of {table} discovered from the lake files")]
        elif args.sql:
            results = [run_sql(con, " ".join(args.sql))]
        else:
            results = run_lab(con, s)
        for result in results:
            print(format_result(result))
    finally:
        con.close()
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from pipeline.dashboard import write_dashboard

    s = _settings()
    path = write_dashboard(s, args.output)
    print(f"dashboard written to {path} (open it in a browser; it needs no server)")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    import json

    from pipeline.audit import AUDIT_FAILED, format_audit, run_audit
    from pipeline.audit_record import audit_record_path, write_audit_record
    from pipeline.errors import ConfigError

    missing = [str(p) for p in args.state if not p.is_dir()]
    if missing:
        raise ConfigError(f"no state folder {', '.join(missing)}: give the stations' STATE_DIR copies with --state "
                          "(`make audit` collects them from the fleet's volumes)")
    settings = _settings()
    if args.aws:
        from pipeline.aws.audit import run_aws_audit

        audit = run_aws_audit(args.state, args.late_after)
    else:
        audit = run_audit(settings, args.state, late_after=args.late_after)
    print(json.dumps(audit.to_json(), indent=1) if args.json else format_audit(audit), end="\n" if args.json else "")
    try:  # for `make dashboard`; the audit's verdict stands without it
        write_audit_record(settings.lake_dir, audit.to_json())
    except OSError as exc:
        log.warning("audit report not kept in %s: %s", audit_record_path(settings.lake_dir), exc.strerror or exc)
    return AUDIT_FAILED if audit.failed else 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


def cmd_broker_metrics(args: argparse.Namespace) -> int:
    from pipeline.broker_metrics import BrokerExporter

    s = _settings()
    exporter = BrokerExporter(host=s.mqtt_host, port=s.mqtt_port, identity_dir=s.metrics_identity_dir)
    exporter.serve(s.broker_metrics_port)
    exporter.start()
    try:
        _wait_for_signal()
    finally:
        exporter.stop()
    return 0


def cmd_dashboard_live(args: argparse.Namespace) -> int:
    from pipeline.live.server import serve_live_dashboard

    s = _settings()
    server = serve_live_dashboard(s, port=s.dashboard_live_port)
    print(f"live dashboard on http://127.0.0.1:{server.port}/ (Prometheus {s.prometheus_url}; Ctrl-C stops it)")
    try:
        _wait_for_signal()
    finally:
        server.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("lake", help="run the lake writer").set_defaults(func=cmd_lake)

    cold = sub.add_parser("cold", help="show the cold-readings table")
    cold.add_argument("--backfill", action="store_true", help="apply the rule to every message already in the lake")
    cold.add_argument("--rule", choices=["iot", "duckdb"], help="print the rule's SQL in this dialect and exit")
    cold.add_argument("--limit", type=int, default=20, help="items to print (default 20)")
    cold.set_defaults(func=cmd_cold)

    sql = sub.add_parser("sql", help="print (or run) one shipped query")
    sql.add_argument("name", nargs="?", help="query name (see --list)")
    sql.add_argument("--dialect", choices=["athena", "duckdb"], default="athena")
    sql.add_argument("--run", action="store_true", help="run it over the lake with DuckDB")
    sql.add_argument("--list", action="store_true", help="list the shipped queries")
    sql.set_defaults(func=cmd_sql)

    query = sub.add_parser("query", help="run the lab's queries (or the SQL given) over the lake")
    query.add_argument("sql", nargs="*", help="DuckDB SQL; default: preview, temperatures, flatten")
    query.add_argument("--schema", action="store_true",
                       help="print the table's schema as discovered from the files (the Glue crawler's job)")
    query.set_defaults(func=cmd_query)

    dash = sub.add_parser("dashboard", help="write the HTML dashboard")
    dash.add_argument("--output", "-o", type=Path, default=None,
                      help="output file (default DASHBOARD_PATH or LAKE_DIR/dashboard.html)")
    dash.set_defaults(func=cmd_dashboard)

    audit = sub.add_parser("audit", help="compare the lake with what the fleet acknowledged and injected")
    audit.add_argument("--state", type=Path, action="append", required=True,
                       help="a folder holding station state files (checkpoints, status, *.faults.jsonl); repeatable")
    audit.add_argument("--json", action="store_true", help="print JSON instead of the table")
    audit.add_argument("--aws", action="store_true",
                       help="audit the S3 lake with Athena (the stack of `make pipeline TARGET=aws`)")
    audit.add_argument("--late-after", type=float, default=60.0,
                       help="seconds from sent_at to arrival after which a message counts as late (default 60)")
    audit.set_defaults(func=cmd_audit)
    sub.add_parser("dashboard-live", help="serve the live dashboard on 127.0.0.1:DASHBOARD_LIVE_PORT").set_defaults(
        func=cmd_dashboard_live)
    sub.add_parser("broker-metrics", help="export the broker's $SYS topics on BROKER_METRICS_PORT").set_defaults(
        func=cmd_broker_metrics)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(lambda: args.func(args), (PipelineError,), f"pipeline {args.command}",
                       log_level=args.log_level)
