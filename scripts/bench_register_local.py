"""Benchmark local registration: cold (new CA and identities) and warm (idempotent re-run) for several fleet sizes.

Writes a markdown table to bench-results/fleet-register.md (and prints it). Usage:
    python scripts/bench_register_local.py [--data-dir DATA_DIR] [--counts 5,50,200]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_report import write_report  # noqa: E402
from provisioning.register_local import LocalFleetRequest, register_local  # noqa: E402
from stationdata.stations import LAB_STATION_FILES  # noqa: E402

OUT = Path("bench-results") / "fleet-register.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None, help="ISD folder (default: five empty stand-ins)")
    parser.add_argument("--counts", default="5,50,200,10000")
    parser.add_argument("--work-dir", type=Path, default=Path(".bench"),
                        help="where the throw-away fleets go (default .bench/, on the disk .fleet/ uses; a tmpfs "
                        "or overlay /tmp can be several times slower or faster)")
    args = parser.parse_args()
    rows = []
    args.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        data = args.data_dir
        if data is None:
            data = Path(tmp) / "isd"
            data.mkdir()
            for stem in LAB_STATION_FILES:
                (data / f"{stem}.gz").write_bytes(b"")
        for count in [int(c) for c in args.counts.split(",")]:
            req = LocalFleetRequest(fleet_dir=Path(tmp) / f"fleet-{count}", data_dir=data, count=count)
            t0 = time.perf_counter()
            cold = register_local(req)
            t1 = time.perf_counter()
            warm = register_local(req)
            t2 = time.perf_counter()
            assert not warm.written, "the second run must change nothing"
            rows.append((count, len(cold.written), t1 - t0, t2 - t1))
    lines = [f"# Local registration ({platform.machine()}, Python {platform.python_version()})", "",
             "| things | files written (cold) | cold (s) | warm re-run (s) | per thing, cold (ms) | target |",
             "|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {c} | {w} | {a:.2f} | {b:.2f} | {1000 * a / (c + 1):.1f} | "
              f"{('<= 60 s: ' + ('met' if a <= 60 else 'MISSED')) if c >= 10000 else ''} |" for c, w, a, b in rows]
    return write_report(OUT, lines)


if __name__ == "__main__":
    raise SystemExit(main())
