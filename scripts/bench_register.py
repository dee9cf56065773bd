"""Benchmark: register N things (default 1,000) in AWS IoT Core emulated by moto's server, then re-run
(idempotent) and unregister; writes a markdown table to bench-results/register.md.

    python scripts/bench_register.py [--count 1000] [--concurrency 16] [--server process|thread]

moto runs as a separate process by default (`testbed/moto_iot.py`: moto with AWS-like certificate
issuing from the CSR and faster request routing), reached through AWS_ENDPOINT_URL like AWS itself.
Target: registering 1,000 things takes <= 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_report import write_report  # noqa: E402
from provisioning.aws.__main__ import main as aws_main  # noqa: E402
from testbed.moto_iot import MotoEndpoint, MotoServerProcess  # noqa: E402


def _timed(argv: list[str]) -> tuple[float, int, str]:
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        rc = aws_main(argv)
    return time.perf_counter() - t0, rc, out.getvalue().strip().splitlines()[0] if out.getvalue().strip() else ""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--server", choices=["process", "thread"], default="process")
    p.add_argument("--out", type=Path, default=ROOT / "bench-results" / "register.md")
    a = p.parse_args()

    server = (MotoServerProcess() if a.server == "process" else MotoEndpoint()).start()
    for var in ("AWS_PROFILE", "AWS_DEFAULT_REGION"):
        os.environ.pop(var, None)
    os.environ.update(server.env())
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fleet = str(Path(tmp) / "fleet")
            common = ["--fleet-dir", fleet, "--concurrency", str(a.concurrency)]
            for label, argv in [
                (f"register {a.count} things", ["register", "--count", str(a.count), *common]),
                ("register again (nothing to create)", ["register", "--count", str(a.count), *common]),
                (f"unregister {a.count} things", ["unregister", *common]),
            ]:
                seconds, rc, first_line = _timed(argv)
                if rc != 0:
                    print(f"{label}: exit code {rc}", file=sys.stderr)
                    return rc
                rows.append((label, seconds, a.count / seconds if "again" not in label else None))
                print(f"{label}: {seconds:.1f} s  ({first_line})")
    finally:
        server.stop()

    a.out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Registration benchmark (AWS IoT Core emulated by moto)",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}, "
        f"moto server in a {a.server}, concurrency {a.concurrency}. Target: register 1,000 things in <= 60 s.",
        "",
        "| step | seconds | things/s |",
        "|---|---:|---:|",
        *[f"| {label} | {s:.1f} | {'' if r is None else f'{r:.0f}'} |" for label, s, r in rows],
        "",
        "Each thing costs 5 IoT calls to register (CreateThing, AddThingToThingGroup, CreateCertificateFromCsr,",
        "AttachPolicy, AttachThingPrincipal) and 5 to unregister; moto's server, not the client, is the bottleneck.",
    ]
    return write_report(a.out, lines)


if __name__ == "__main__":
    sys.exit(main())
