"""Benchmark the local pipeline: lake writer throughput (with and without the cold-readings rule), file sizes, and
DuckDB query times over the resulting lake. Writes a markdown table to bench-results/pipeline-lake.md.

    python scripts/bench_lake.py [--records 20000] [--data-dir DIR]

Messages are built from real ISD station-years (`station.build.build_message`), so sizes are realistic.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from scripts.bench_report import write_report  # noqa: E402
from pipeline.cold import ColdTable  # noqa: E402
from pipeline.lake import LakeWriter, lake_files  # noqa: E402
from pipeline.query import open_warehouse, run_named  # noqa: E402
from pipeline.settings import PipelineSettings  # noqa: E402
from station.build import build_message, encode_message  # noqa: E402
from isd_decoder import read_isd  # noqa: E402


def payloads(data_dir: Path, count: int) -> list[tuple[bytes, str]]:
    files = sorted(p for p in data_dir.iterdir() if p.is_file() and not p.name.endswith(".md"))
    if not files:
        raise SystemExit(f"no ISD files in {data_dir} (set DATA_DIR or --data-dir)")
    out: list[tuple[bytes, str]] = []
    sent_at = datetime.now(timezone.utc)
    per_file = count // len(files) + 1
    for index, path in enumerate(files):
        with read_isd(path) as reader:
            for seq, record in enumerate(itertools.islice(reader, per_file)):
                out.append((encode_message(build_message(record, thing_name=f"station-{index}", seq=seq,
                                                         sent_at=sent_at)), f"station-{index}"))
    return out[:count]


def bench_writer(data: list[tuple[bytes, str]], cold: bool, buffer_bytes: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    table = ColdTable(folder / "cold.sqlite3") if cold else None
    writer = LakeWriter(folder, buffer_bytes=buffer_bytes, buffer_seconds=3600, cold=table)
    start = time.perf_counter()
    for payload, publisher in data:
        writer.add(payload, publisher=publisher)
    writer.close()
    elapsed = time.perf_counter() - start
    files = lake_files(folder / "sensor" / "weather")
    return {"folder": folder, "seconds": elapsed, "files": len(files),
            "raw_bytes": sum(len(p) + 1 for p, _ in data), "gz_bytes": sum(f.stat().st_size for f in files),
            "cold_items": table.count() if table else 0}


def bench_queries(folder: Path) -> list[tuple[str, float, int]]:
    settings = PipelineSettings(LAKE_DIR=folder, WAREHOUSE_DB=folder / "warehouse.duckdb")
    con = open_warehouse(settings)
    out = []
    try:
        for name in ("preview", "temperature_by_station", "temperature_by_condition", "flatten"):
            start = time.perf_counter()
            rows = len(run_named(con, settings, name).rows)
            out.append((name, time.perf_counter() - start, rows))
    finally:
        con.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--buffer-bytes", type=int, default=5 * 1024 * 1024)
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("DATA_DIR") or REPO_ROOT.parent / "shared" / "data" / "isd"))
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "bench-results" / "pipeline-lake.md")
    args = parser.parse_args()
    data = payloads(args.data_dir, args.records)
    plain = bench_writer(data, cold=False, buffer_bytes=args.buffer_bytes)
    with_cold = bench_writer(data, cold=True, buffer_bytes=args.buffer_bytes)
    queries = bench_queries(plain["folder"])
    lines = [
        "# Local pipeline benchmark", "",
        f"`python scripts/bench_lake.py --records {args.records}` on {platform.machine()}, {os.cpu_count()} CPU(s), "
        f"Python {platform.python_version()}; {len(data)} real ISD messages "
        f"(mean {plain['raw_bytes'] / len(data):.0f} bytes), buffer {args.buffer_bytes} bytes, "
        f"every file fsynced and renamed, every key in the ledger.", "",
        "| lake writer | messages/s | files | NDJSON bytes | gzip bytes | ratio | cold items |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, r in (("without cold rule", plain), ("with cold rule (DuckDB per flush)", with_cold)):
        lines.append(f"| {label} | {len(data) / r['seconds']:,.0f} | {r['files']} | {r['raw_bytes']:,} | "
                     f"{r['gz_bytes']:,} | {r['raw_bytes'] / max(1, r['gz_bytes']):.1f} | {r['cold_items']} |")
    lines += ["", "| DuckDB query over that lake | seconds | rows |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {seconds:.3f} | {rows} |" for name, seconds, rows in queries]
    return write_report(args.output, lines)


if __name__ == "__main__":
    raise SystemExit(main())
