"""Benchmark the station's publisher against a local Mosquitto (mutual TLS), write bench-results/publish.md.

1. Throughput: `python -m station run` (the engine hosting one station) replays a real station-year unthrottled
   (INTERVAL=0, every QoS1 PUBACK checked) and a bare awscrt MQTT5 loop publishes the same pre-encoded payloads to
   the same broker, in many short alternating rounds (bare first in even rounds, the station first in odd ones,
   so drift in the machine's load falls on both alike). Each round gives one ratio station / bare; the report
   gives the median ratio (target >= 0.9) with its spread (min, quartiles, max) and the machine's load average
   before and after, and the station's peak RSS (target <= 60 MB: the VmHWM its summary reports). The default
   (`stream`) decodes the file once into the message cache, then splices seq and sent_at; `--variants` adds
   DECODE_AHEAD=false (`inline`: decoding while publishing) and PRELOAD (`preload`).
2. Pacing: 10,000 messages at a fixed 200 msg/s (INTERVAL=0.005); lateness of each publish against its absolute
   deadline, p50/p99/max (target p99 <= 5 ms) and the median of the first and last 1,000 (no drift).

Needs Docker and the broker image (env MOSQUITTO_IMAGE); DATA_DIR points at the ISD files.
Usage: python scripts/bench_publish.py [--file NAME] [--rounds 15] [--variants stream,inline,preload]
       [--pacing-count 10000] [--out bench-results/publish.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
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

from scripts.bench_report import write_report  # noqa: E402
from awscrt import mqtt5  # noqa: E402

from fleetcore.identity import IdentityFiles  # noqa: E402
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client  # noqa: E402

from isd_decoder import open_isd  # noqa: E402
from station.build import build_message, encode_message  # noqa: E402
from isd_decoder import read_isd  # noqa: E402
from testbed.broker import TlsBroker  # noqa: E402
from testbed.certs import Identity, TestCA  # noqa: E402
from testbed.station import station_environment  # noqa: E402


def bare_loop(host: str, port: int, identity: Identity, payloads: list[bytes]) -> float:
    """msg/s of a plain awscrt MQTT5 QoS1 loop: publish every payload, then wait for every PUBACK."""
    connected: Future[None] = Future()
    client = mtls_client(
        MqttOptions(host=host, port=port, client_id=identity.name, session=Session.CLEAN,
                    identity=IdentityFiles(identity.certificate, identity.private_key, identity.ca)),
        Callbacks(on_success=lambda d: connected.set_result(None)))
    client.start()
    connected.result(15)
    packet, qos = mqtt5.PublishPacket, mqtt5.QoS.AT_LEAST_ONCE
    start = time.perf_counter()
    futures = [client.publish(packet(topic="sensor/weather", payload=p, qos=qos)) for p in payloads]
    codes = [f.result(120).puback.reason_code for f in futures]
    elapsed = time.perf_counter() - start
    client.stop()
    ok = (mqtt5.PubackReasonCode.SUCCESS, mqtt5.PubackReasonCode.NO_MATCHING_SUBSCRIBERS)
    failed = sum(1 for c in codes if c not in ok)
    if failed:
        raise RuntimeError(f"bare loop: {failed} failed PUBACKs")
    return len(payloads) / elapsed


def run_station(env: dict[str, str]) -> tuple[dict[str, str], float, float]:
    """(summary fields, wall seconds, peak RSS MB) of one `python -m station run`."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:  # outside the repository: a developer's .env is not read
        proc = subprocess.Popen([sys.executable, "-m", "station", "run"], cwd=cwd, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
        proc.wait()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"station exited {proc.returncode}:\n{stderr[-3000:]}")
    line = [x for x in stderr.splitlines() if " summary " in x][-1]
    summary = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}
    if summary["acknowledged"] != summary["published"] or summary["failed"] != "0":
        raise RuntimeError(f"not every message acknowledged: {line}")
    return summary, wall, float(summary["peak_rss_mb"])  # VmHWM: ru_maxrss would count the forked parent


def pacing(broker: TlsBroker, identity: Identity, data: Path, count: int, workdir: Path) -> list[float]:
    """Lateness (s) of `count` publishes at 200 msg/s, measured inside the replay loop."""
    from station.replay import Replay
    from station.settings import StationSettings

    cut = workdir / "pacing.txt"
    with open_isd(data) as src:
        lines = src.read().splitlines(keepends=True)
    while len(lines) < count:
        lines = lines + lines
    cut.write_bytes(b"".join(lines[:count]))
    settings = StationSettings(
        thing_name=identity.name, mqtt_host=broker.host, mqtt_port=broker.port, identity_dir=identity.directory,
        data_file=cut, interval=0.005, state_dir=workdir / "pacing-state", progress_interval=3600,
        log_level="WARNING", speedup=None, max_rate=0, loop=False, start_at=None, time_mode="original",
        preload=False, target="local", topic="sensor/weather", _env_file=None)
    replay = Replay(settings, record_lateness=True)
    if replay.run() != 0 or replay.summary.acknowledged != count:
        raise RuntimeError(f"pacing run failed: {replay.summary}")
    return replay.lateness


def bare_sleep_lateness(count: int, interval: float = 0.005) -> list[float]:
    """Lateness (s) of an empty loop waking up on the same absolute deadlines: what the machine itself allows."""
    wake = threading.Event()
    start = time.monotonic()
    out = []
    for i in range(count):
        deadline = start + i * interval
        remaining = deadline - time.monotonic()
        if remaining > 0:
            wake.wait(remaining)
        out.append(time.monotonic() - deadline)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


VARIANTS = {"stream": {}, "inline": {"DECODE_AHEAD": "false"}, "preload": {"PRELOAD": "true"}}


def spread(values: list[float]) -> str:
    """min / lower quartile / upper quartile / max."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
    return f"{min(values):.2f} / {q[0]:.2f} / {q[2]:.2f} / {max(values):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default="723123-14886-2022.gz", help="station-year in DATA_DIR")
    parser.add_argument("--pacing-count", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1000, help="station MAX_INFLIGHT")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds of bare / station runs")
    parser.add_argument("--variants", default="stream", help="comma-separated: stream (default), inline, preload")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "publish.md")
    args = parser.parse_args()
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    data_dir = Path(os.environ.get("DATA_DIR") or REPO.parent / "shared" / "data" / "isd")
    data = data_dir / args.file
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if not data.is_file():
        print(f"data file not found: {data} (set DATA_DIR)", file=sys.stderr)
        return 2
    if unknown := set(variants) - set(VARIANTS):
        print(f"unknown --variants {sorted(unknown)}: choose from {sorted(VARIANTS)}", file=sys.stderr)
        return 2

    load_before = os.getloadavg()
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
            bare_id = broker.identity("bench-bare")
            bare: list[float] = []
            rates: dict[str, list[float]] = {v: [] for v in variants}
            ratios: dict[str, list[float]] = {v: [] for v in variants}
            rss: dict[str, float] = {}
            for round_no in range(args.rounds):
                def station_runs() -> None:
                    for variant in variants:
                        env = station_environment(**broker.station_env(
                            broker.identity(f"bench-{variant}-{round_no}"), DATA_FILE=str(data), INTERVAL="0",
                            MAX_INFLIGHT=str(args.window), STATE_DIR=str(work / "state"), PROGRESS_INTERVAL="3600",
                            **VARIANTS[variant]))
                        summary, _wall, peak = run_station(env)
                        rates[variant].append(float(summary["rate"].removesuffix("/s")))
                        rss[variant] = max(rss.get(variant, 0.0), peak)

                if round_no % 2:
                    station_runs()
                    bare.append(bare_loop(broker.host, broker.port, bare_id, payloads))
                else:
                    bare.append(bare_loop(broker.host, broker.port, bare_id, payloads))
                    station_runs()
                for variant in variants:
                    ratios[variant].append(rates[variant][-1] / bare[-1])
                print(f"round {round_no + 1}: bare {bare[-1]:,.0f} msg/s, " + ", ".join(
                    f"{v} {rates[v][-1]:,.0f} ({ratios[v][-1]:.2f}x)" for v in variants), file=sys.stderr)
            lateness = pacing(broker, broker.identity("bench-pacing"), data, args.pacing_count, work)
            baseline = [x * 1000 for x in bare_sleep_lateness(args.pacing_count)]
    load_after = os.getloadavg()

    ms = [x * 1000 for x in lateness]
    k = min(1000, len(ms) // 10)
    rows = [
        ("messages (station-year)", f"{len(payloads)}", ""),
        ("bare awscrt MQTT5 loop, pre-encoded payloads", f"median {statistics.median(bare):,.0f} msg/s",
         f"min {min(bare):,.0f}, max {max(bare):,.0f}"),
    ]
    for variant in variants:
        target = " (target >= 0.9)" if variant == "stream" else ""
        rows += [
            (f"station run ({variant}), every PUBACK checked", f"median {statistics.median(rates[variant]):,.0f} "
             "msg/s", f"min {min(rates[variant]):,.0f}, max {max(rates[variant]):,.0f}"),
            (f"**ratio station ({variant}) / bare, median of {len(ratios[variant])} rounds**",
             f"**{statistics.median(ratios[variant]):.2f}**{target}",
             f"spread min / q1 / q3 / max: {spread(ratios[variant])}"),
            (f"station peak RSS ({variant})", f"{rss[variant]:.1f} MB",
             "target <= 60 MB (VmHWM; the message cache's pages are released as read)" if variant == "stream"
             else "VmHWM"),
        ]
    rows += [
        ("ISD decode (isd_decoder), per record", f"{parse_s / len(payloads) * 1e6:.0f} us", "in the bench process"),
        ("build + encode (station.build), per record", f"{build_s / len(payloads) * 1e6:.0f} us", ""),
        (f"lateness at 200 msg/s over {len(ms)} messages: p50", f"{percentile(ms, 50):.3f} ms", ""),
        ("lateness p99", f"{percentile(ms, 99):.3f} ms", "target <= 5 ms"),
        ("lateness max", f"{max(ms):.3f} ms", ""),
        ("same deadlines, empty loop (machine baseline): p50 / p99 / max",
         f"{percentile(baseline, 50):.3f} / {percentile(baseline, 99):.3f} / {max(baseline):.3f} ms",
         "scheduler noise of this machine"),
        (f"lateness median, first / last {k}", f"{statistics.median(ms[:k]):.3f} / "
         f"{statistics.median(ms[-k:]):.3f} ms", "equal = no drift"),
        ("load average before / after (1/5/15 min)", " / ".join(f"{x:.1f}" for x in load_before) + " ; " +
         " / ".join(f"{x:.1f}" for x in load_after), f"{os.cpu_count()} CPUs; other work skews every figure"),
    ]
    text = [
        "# Station publish benchmark",
        "",
        f"`make bench-publish` on {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}),"
        f" {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; file `{args.file}`; broker image"
        f" `{os.environ.get('MOSQUITTO_IMAGE', 'weather-fleet/mosquitto:latest')}` (mutual TLS, QoS1); station window"
        f" {args.window}; {args.rounds} alternating rounds (bare / station), one ratio per round.",
        "",
        "| measure | value | note |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    return write_report(args.out, text)


if __name__ == "__main__":
    sys.exit(main())
