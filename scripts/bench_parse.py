"""`make bench-parse`: records/s of our ISD decoder beside PyPI `isd`, on every file of the data folder.

Measures, per file, in the same run:
  - ours: read + decode (control, mandatory and the full additional-data section), and
    read + decode + build the weather message + encode it to JSON;
  - PyPI `isd` (its own venv, it needs numpy<2): read + `Record.parse`, and read + parse + `to_json()`.
Each figure is the best of `--repeats` runs, timed in CPU time of the process (single-threaded work, so it
equals wall time on an idle machine and is not inflated by other load); our decoded-group cache is emptied
before every run. Lines `isd` cannot parse are counted and skipped.
Writes a markdown table to bench-results/parse.md and prints it.

The `isd` venv is created on first use in .bench/isd-venv (git-ignored); `--isd-python` points elsewhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.bench_report import write_report  # noqa: E402
from scripts.reference_venv import VENV as DEFAULT_VENV, isd_python  # noqa: E402
from station.build import build_message, encode_message  # noqa: E402
from isd_decoder import read_isd  # noqa: E402
from isd_decoder.additional import clear_decoded_cache  # noqa: E402

DEFAULT_DATA_DIR = REPO.parent / "shared" / "data" / "isd"

# Runs inside the isd venv: times parse and parse+to_json on each file, prints JSON on stdout.
ISD_RUNNER = r"""
import gzip, json, sys, time
from isd.record import Record

def lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        for line in f:
            yield line.decode("utf-8")

def run(path, to_json):
    failures = 0
    records = 0
    start = time.process_time()
    for line in lines(path):
        try:
            record = Record.parse(line)
            if to_json:
                record.to_json()
        except Exception:
            failures += 1
            continue
        records += 1
    return records, failures, time.process_time() - start

out = {}
for path in sys.argv[1:]:
    records, failures, parse_s = run(path, False)
    _, _, json_s = run(path, True)
    out[path] = {"records": records, "failures": failures, "parse_s": parse_s, "json_s": json_s}
print(json.dumps(out))
"""


def time_ours(path: Path, encode: bool) -> tuple[int, float]:
    clear_decoded_cache()
    sent_at = datetime.now(timezone.utc)
    records = 0
    start = time.process_time()
    with read_isd(path) as reader:
        if encode:
            for record in reader:
                encode_message(build_message(record, thing_name="bench", seq=records, sent_at=sent_at))
                records += 1
        else:
            for _record in reader:
                records += 1
    return records, time.process_time() - start


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".md"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--isd-python", type=Path, help="python of a venv with PyPI isd (default: create one)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "parse.md")
    args = parser.parse_args()

    if not args.data_dir.is_dir() or not data_files(args.data_dir):
        print(f"no ISD files in {args.data_dir} (set DATA_DIR)", file=sys.stderr)
        return 2
    files = data_files(args.data_dir)
    python = args.isd_python or isd_python(DEFAULT_VENV)

    best: dict[Path, dict[str, float]] = {f: {} for f in files}
    info: dict[Path, dict[str, int]] = {}
    for _ in range(args.repeats):
        for f in files:  # ours and theirs interleaved, so both see the same machine load
            n, decode_s = time_ours(f, encode=False)
            _, encode_s = time_ours(f, encode=True)
            b = best[f]
            b["decode"] = min(b.get("decode", float("inf")), decode_s)
            b["encode"] = min(b.get("encode", float("inf")), encode_s)
            done = subprocess.run(
                [str(python), "-c", ISD_RUNNER, str(f)], capture_output=True, text=True, check=True
            )
            theirs = json.loads(done.stdout)[str(f)]
            b["parse"] = min(b.get("parse", float("inf")), theirs["parse_s"])
            b["json"] = min(b.get("json", float("inf")), theirs["json_s"])
            info[f] = {"records": n, "isd_records": theirs["records"], "isd_failures": theirs["failures"]}

    rows = []
    totals = {"records": 0, "decode": 0.0, "encode": 0.0, "isd_records": 0, "parse": 0.0, "json": 0.0}
    for f in files:
        b, i = best[f], info[f]
        ratio = (i["records"] / b["encode"]) / (i["isd_records"] / b["json"]) if i["isd_records"] else float("nan")
        rows.append(
            f"| {f.name} | {i['records']} | {i['records'] / b['decode']:,.0f} | {i['records'] / b['encode']:,.0f} "
            f"| {i['isd_records'] / b['parse']:,.0f} | {i['isd_records'] / b['json']:,.0f} | {ratio:.2f}x "
            f"| {i['isd_failures']} |"
        )
        totals["records"] += i["records"]
        totals["isd_records"] += i["isd_records"]
        for key in ("decode", "encode", "parse", "json"):
            totals[key] += b[key]
    t = totals
    overall = (t["records"] / t["encode"]) / (t["isd_records"] / t["json"])
    rows.append(
        f"| **all files** | {t['records']} | {t['records'] / t['decode']:,.0f} | {t['records'] / t['encode']:,.0f} "
        f"| {t['isd_records'] / t['parse']:,.0f} | {t['isd_records'] / t['json']:,.0f} | **{overall:.2f}x** | |"
    )
    isd_version = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('isd'))"],
        capture_output=True, text=True, check=False,
    ).stdout.strip()
    table = "\n".join(
        [
            "# ISD parse benchmark",
            "",
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
            f"{os.cpu_count()} CPUs, best of {args.repeats} runs (CPU time), PyPI isd {isd_version}. "
            "Records per second.",
            "",
            "| file | records | ours: decode | ours: decode + JSON | isd: parse | isd: parse + to_json "
            "| ratio (decode + JSON vs parse + to_json) | lines isd failed on |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "Ours decodes the control, mandatory and the whole additional-data section (every group walked by "
            "the length table, AA/AU/AW/MW/GA/GD/GF/KA/MA/OC decoded into values and words, REM/EQD/QNN split) "
            "and encodes the full weather message (one `sent_at` for the run, as `station convert` does); "
            "`isd` parses the mandatory fields only and keeps the rest as raw strings. "
            "The all-files row divides total records by total best times.",
            "",
        ]
    )
    return write_report(args.out, table.splitlines())


if __name__ == "__main__":
    sys.exit(main())
