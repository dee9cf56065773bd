"""Benchmark the station's publisher against a local Mosquitto (mutual TLS), write bench-results/publish.md.

1. Throughput: `python -m station run` replays a real station-year unthrottled (INTERVAL=0, every QoS1 PUBACK
   checked), beside a bare awscrt MQTT5 loop publishing the same pre-encoded payloads over the same broker in the
   same run. Reports msg/s of both, their ratio (target >= 0.7) and the station's peak RSS (target <= 60 MB).
2. Pacing: 10,000 messages at a fixed 200 msg/s (INTERVAL=0.005); lateness of each publish against its absolute
   deadline, p50/p99/max (target p99 <= 5 ms) and the median of the first and last 1,000 (no drift).

Needs Docker and the broker image (env MOSQUITTO_IMAGE); DATA_DIR points at the ISD files.
Usage: python scripts/bench_publish.py [--file NAME] [--pacing-count 10000] [--out bench-results/publish.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from awscrt import mqtt5  # noqa: E402
from awsiot import mqtt5_client_builder  # noqa: E402

from station.build import build_message, encode_message  # noqa: E402
from station.isd import read_isd  # noqa: E402
from tests.support.broker import TlsBroker  # noqa: E402
from tests.support.certs import Identity, TestCA  # noqa: E402
from tests.support.station import station_environment  # noqa: E402


def bare_loop(host: str, port: int, identity: Identity, payloads: list[bytes], window: int) -> float:
    """msg/s of a plain awscrt MQTT5 QoS1 loop: publish with at most `window` in flight, wait for every PUBACK."""
    connected: Future[None] = Future()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=host, port=port, cert_filepath=str(identity.certificate), pri_key_filepath=str(identity.private_key),
        ca_filepath=str(identity.ca), client_id=identity.name, enable_metrics_collection=False,
        extended_validation_and_flow_control_options=mqtt5.ExtendedValidationAndFlowControlOptions.NONE,
        on_lifecycle_connection_success=lambda d: connected.set_result(None))
    client.start()
    connected.result(15)
    slots = threading.Semaphore(window)
    failures = []

    def done(future: Future) -> None:
        code = future.result().puback.reason_code
        if code not in (mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS):
            failures.append(code)
        slots.release()

    start = time.perf_counter()
    for payload in payloads:
        slots.acquire()
        client.publish(mqtt5.PublishPacket(topic="sensor/weather", payload=payload,
                                           qos=mqtt5.QoS.AT_LEAST_ONCE)).add_done_callback(done)
    for _ in range(window):
        slots.acquire()
    elapsed = time.perf_counter() - start
    client.stop()
    if failures:
        raise RuntimeError(f"bare loop: {len(failures)} failed PUBACKs")
    return len(payloads) / elapsed


def run_station(env: dict[str, str]) -> tuple[dict[str, str], float, float]:
    """(summary fields, wall seconds, peak RSS MB) of one `python -m station run`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "station", "run"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise RuntimeError(f"station exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    line = [x for x in proc.stderr.splitlines() if " summary " in x][-1]
    summary = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}
    if peak <= before:
        peak = before  # ru_maxrss of children is the max over all of them
    return summary, wall, peak / 1024.0


def pacing(broker: TlsBroker, identity: Identity, data: Path, count: int, workdir: Path) -> list[float]:
    """Lateness (s) of `count` publishes at 200 msg/s, measured inside the replay loop."""
    from station.replay import Replay
    from station.settings import StationSettings

    cut = workdir / "pacing.txt"
    with read_isd(data) as reader:
        first_line = None
        for record in reader:
            first_line = first_line or record.line_number
    import gzip

    opener = gzip.open if data.suffix == ".gz" else open
    with opener(data, "rb") as src:
        lines = src.read().splitlines(keepends=True)
    while len(lines) < count:
        lines = lines + lines
    cut.write_bytes(b"".join(lines[:count]))
    settings = StationSettings(
        thing_name=identity.name, mqtt_host=broker.host, mqtt_port=broker.port, identity_dir=identity.directory,
        data_file=cut, interval=0.005, state_dir=workdir / "pacing-state", progress_interval=3600)
    replay = Replay(settings, record_lateness=True)
    if replay.run() != 0 or replay.summary.acknowledged != count:
        raise RuntimeError(f"pacing run failed: {replay.summary}")
    return replay.summary.lateness


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default="723123-14886-2022.gz", help="station-year in DATA_DIR")
    parser.add_argument("--pacing-count", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1000, help="in-flight window (station MAX_INFLIGHT too)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "publish.md")
    args = parser.parse_args()
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    data_dir = Path(os.environ.get("DATA_DIR") or REPO.parent / "shared" / "data" / "isd")
    data = data_dir / args.file
    if not data.is_file():
        print(f"data file not found: {data} (set DATA_DIR)", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ca = TestCA(work / "pki")
        with TlsBroker(work / "broker", ca) as broker:
            t0 = time.perf_counter()
            records = list(read_isd(data))
            parse_s = time.perf_counter() - t0
            now = datetime.now(timezone.utc)
            t0 = time.perf_counter()
            payloads = [encode_message(build_message(r, thing_name="bench-bare", seq=i + 1, sent_at=now))
                        for i, r in enumerate(records)]
            build_s = time.perf_counter() - t0
            del records
            bare_rate = bare_loop(broker.host, broker.port, broker.identity("bench-bare"), payloads, args.window)
            station_id = broker.identity("bench-station")
            env = station_environment(**broker.station_env(
                station_id, DATA_FILE=str(data), INTERVAL="0", MAX_INFLIGHT=str(args.window),
                STATE_DIR=str(work / "state"), PROGRESS_INTERVAL="3600"))
            summary, wall, rss_mb = run_station(env)
            station_rate = float(summary["rate"].removesuffix("/s"))
            acked = int(summary["acknowledged"])
            lateness = pacing(broker, broker.identity("bench-pacing"), data, args.pacing_count, work)

    ms = [x * 1000 for x in lateness]
    k = min(1000, len(ms) // 10)
    rows = [
        ("messages (station-year)", f"{len(payloads)}", ""),
        ("bare awscrt MQTT5 loop, pre-encoded payloads", f"{bare_rate:,.0f} msg/s", ""),
        ("station run, INTERVAL=0, every PUBACK checked", f"{station_rate:,.0f} msg/s",
         f"acknowledged {acked}/{len(payloads)}"),
        ("ratio station / bare", f"{station_rate / bare_rate:.2f}", "target >= 0.7"),
        ("station wall time incl. start-up, fingerprint", f"{wall:.2f} s", ""),
        ("ISD decode (station.isd), per record", f"{parse_s / len(payloads) * 1e6:.0f} us", "parse branch"),
        ("build + encode (station.build), per record", f"{build_s / len(payloads) * 1e6:.0f} us", "parse branch"),
        ("station peak RSS", f"{rss_mb:.1f} MB", "target <= 60 MB"),
        (f"lateness at 200 msg/s over {len(ms)} messages: p50", f"{percentile(ms, 50):.3f} ms", ""),
        ("lateness p99", f"{percentile(ms, 99):.3f} ms", "target <= 5 ms"),
        ("lateness max", f"{max(ms):.3f} ms", ""),
        (f"lateness median, first / last {k}", f"{statistics.median(ms[:k]):.3f} / "
         f"{statistics.median(ms[-k:]):.3f} ms", "equal = no drift"),
    ]
    text = [
        "# Station publish benchmark",
        "",
        f"`make bench-publish` on {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}),"
        f" {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; file `{args.file}`; broker image"
        f" `{os.environ.get('MOSQUITTO_IMAGE', 'eclipse-mosquitto:2')}` (mutual TLS, QoS1); window {args.window}.",
        "",
        "| measure | value | note |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
