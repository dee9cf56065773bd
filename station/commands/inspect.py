"""`station inspect FILE`: records, time span, station metadata, sections and identifiers, skipped lines.

Exit 0 when the file was read to its end (skipped lines are reported, not fatal), 1 when the file itself is
damaged (e.g. a truncated .gz: everything before the damage is still summarised) or no line of it decodes,
2 when it cannot be opened.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from isd_decoder import IsdFileError, read_isd
from isd_decoder.no_records import no_records_message
from isd_decoder.summary import IsdSummary
from station.build import build_message, encode_message

MAX_ERRORS_SHOWN = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="an ISD station-year file, plain or .gz")
    parser.add_argument("--head", type=int, default=0, metavar="N",
                        help="also print the first N weather messages as JSON lines")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON document")
    parser.add_argument("--thing-name", default=None,
                        help="thing_name of the --head messages (default: station-USAF-WBAN)")


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        reader = read_isd(path)
    except OSError as exc:
        print(f"station inspect: cannot open {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    summary = IsdSummary()
    head: list[bytes] = []
    sent_at = datetime.now(timezone.utc)
    with reader:
        for record in reader:
            summary.add(record)
            if len(head) < args.head:
                thing = args.thing_name or f"station-{record.station_id}"
                head.append(encode_message(build_message(record, thing_name=thing, seq=len(head) + 1, sent_at=sent_at)))
    stats = reader.stats
    if args.json:
        document = summary.as_dict()
        document.update(
            file=str(path), lines=stats.lines, skipped=stats.skipped,
            skipped_by_kind=dict(stats.skipped_by_kind),
            errors=[{"line": e.line_number, "kind": e.kind, "message": e.message} for e in reader.errors],
        )
        print(json.dumps(document, indent=2))
    else:
        print(_text(path, summary, reader))
    for message in head:
        sys.stdout.write(message.decode("utf-8") + "\n")
    if stats.records == 0:
        print(f"station inspect: {no_records_message(path, stats)}", file=sys.stderr)
        return 1
    return 1 if stats.file_error else 0


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counter.items()) or "none"


def _text(path: Path, summary: IsdSummary, reader) -> str:  # type: ignore[no-untyped-def]
    data = summary.as_dict()
    stats = reader.stats
    lines = [
        f"file          {path}",
        f"lines         {stats.lines}  (records {stats.records}, skipped {stats.skipped})",
    ]
    if data["records"]:
        span = f"{data['earliest']} .. {data['latest']}"
        lines += [
            f"time span     {span}  (first {data['first_time']}, last {data['last_time']})",
            f"time order    {summary.out_of_order} records earlier than the one before, "
            f"{summary.duplicate_times} with the same time as the one before",
            f"stations      {_counts(data['stations'])}",
        ]
        for p in data["positions"][:3]:
            lines.append(f"position      lat {p['latitude']} lon {p['longitude']} elevation {p['elevation']} m "
                         f"({p['records']} records)")
        lines += [
            f"call letters  {_counts(data['call_letters'])}",
            f"report types  {_counts(data['report_types'])}",
            f"sections      {_counts(data['sections'])} (records holding each)",
            f"identifiers   {_counts(data['identifiers'])}",
            f"remark types  {_counts(data['remark_types'])}",
            f"unknown ids   {_counts(data['unknown_identifiers'])}"
            + (" (decoding of those records stopped there)" if data["unknown_identifiers"] else ""),
        ]
    if stats.skipped:
        lines.append(f"skipped       {_counts(dict(stats.skipped_by_kind))}")
    for error in reader.errors[:MAX_ERRORS_SHOWN]:
        label = "file error" if isinstance(error, IsdFileError) else "skipped"
        lines.append(f"  {label}: {error}")
    if len(reader.errors) > MAX_ERRORS_SHOWN:
        lines.append(f"  ... and {len(reader.errors) - MAX_ERRORS_SHOWN} more")
    return "\n".join(lines)
