"""`station convert FILE [-o out.jsonl[.gz]]`: every record as one weather message per line (JSON lines).

The lab's pre-conversion step, done right and streaming: constant memory whatever the file size, output
gzipped when its name ends in .gz, a progress bar when stderr is a terminal. `seq` counts from 1 in file
order (as `station run` does), `sent_at` is the conversion time, `thing_name` defaults to station-USAF-WBAN.
Skipped lines and unknown additional-data identifiers (count per identifier: the groups after one are not in
that record's message) are reported on stderr. Exit 0 when the input was read to its end, 1 when the input file
is damaged (every good record before the damage is written) or holds no decodable line at all, 2 when a file
cannot be opened or written.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from isd_decoder import IsdFileError, read_isd
from isd_decoder.no_records import no_records_message
from station.build import build_message, encode_message

MAX_ERRORS_SHOWN = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="an ISD station-year file, plain or .gz")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output file, .jsonl or .jsonl.gz (default: standard output)")
    parser.add_argument("--thing-name", default=None, help="thing_name of every message (default: station-USAF-WBAN)")
    parser.add_argument("--no-progress", action="store_true", help="never show the progress bar")


def _open_output(path: Path | None) -> BinaryIO:
    if path is None:
        return sys.stdout.buffer
    if path.name.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    return path.open("wb")


def run(args: argparse.Namespace) -> int:
    try:
        reader = read_isd(args.file)
    except OSError as exc:
        print(f"station convert: cannot open {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        out = _open_output(args.output)
    except OSError as exc:
        reader.close()
        print(f"station convert: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    sent_at = datetime.now(timezone.utc)
    show = not args.no_progress and sys.stderr.isatty()
    written = 0
    try:
        with reader, tqdm(unit=" records", disable=not show, file=sys.stderr, mininterval=0.5) as bar:
            write = out.write
            for record in reader:
                thing = args.thing_name or f"station-{record.station_id}"
                written += 1
                write(encode_message(build_message(record, thing_name=thing, seq=written, sent_at=sent_at)))
                write(b"\n")
                if show and written % 1000 == 0:
                    bar.update(1000)
            if show:
                bar.update(written % 1000)
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    stats = reader.stats
    target = args.output or "standard output"
    print(f"station convert: {written} messages to {target}; {stats.lines} lines read, {stats.skipped} skipped",
          file=sys.stderr)
    for error in reader.errors[:MAX_ERRORS_SHOWN]:
        label = "file error" if isinstance(error, IsdFileError) else "skipped"
        print(f"  {label}: {error}", file=sys.stderr)
    if len(reader.errors) > MAX_ERRORS_SHOWN:
        print(f"  ... and {len(reader.errors) - MAX_ERRORS_SHOWN} more", file=sys.stderr)
    if stats.unknown_identifiers:
        counts = ", ".join(f"{ident} {n}" for ident, n in stats.unknown_identifiers.most_common())
        print(f"  unknown additional-data identifiers: {counts} (records holding one lack the groups after it)",
              file=sys.stderr)
    if stats.records == 0:
        print(f"station convert: {no_records_message(args.file, stats)}", file=sys.stderr)
        return 1
    return 1 if stats.file_error else 0
