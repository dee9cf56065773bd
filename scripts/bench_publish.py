"""Benchmark the station's publisher against a local Mosquitto (mutual TLS), write bench-results/publish.md.

1. Throughput: `python -m station run` replays a real station-year unthrottled (INTERVAL=0, every QoS1 PUBACK
   checked), streaming (default: decoded ahead in a helper process), streaming in one process (DECODE_AHEAD=false)
   and with PRELOAD=true, beside a bare awscrt MQTT5 loop publishing the same
   pre-encoded payloads to the same broker, in alternating rounds. Reports msg/s (best and median), the ratios
   (target >= 0.7) and the station's peak RSS (target <= 60 MB, VmHWM the station reports in its summary).
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
from tests.support.broker import TlsBroker  # noqa: E402
from tests.support.certs import Identity, TestCA  # noqa: E402
from tests.support.station import station_environment  # noqa: E402


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", default="723123-14886-2022.gz", help="station-year in DATA_DIR")
    parser.add_argument("--pacing-count", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=1000, help="station MAX_INFLIGHT")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of bare / station runs")
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
            bare_id = broker.identity("bench-bare")
            results: dict[str, list[float]] = {"bare": [], "stream": [], "inline": [], "preload": []}
            rss: dict[str, float] = {}
            decoder_rss = 0.0
            walls: dict[str, list[float]] = {"stream": [], "inline": [], "preload": []}
            for round_no in range(args.rounds):
                results["bare"].append(bare_loop(broker.host, broker.port, bare_id, payloads))
                for variant in ("stream", "inline", "preload"):
                    name = f"bench-{variant}-{round_no}"
                    env = station_environment(**broker.station_env(
                        broker.identity(name), DATA_FILE=str(data), INTERVAL="0", MAX_INFLIGHT=str(args.window),
                        STATE_DIR=str(work / "state"), PROGRESS_INTERVAL="3600",
                        PRELOAD="true" if variant == "preload" else "false",
                        DECODE_AHEAD="false" if variant == "inline" else "true"))
                    summary, wall, peak = run_station(env)
                    results[variant].append(float(summary["rate"].removesuffix("/s")))
                    walls[variant].append(wall)
                    rss[variant] = max(rss.get(variant, 0.0), peak)
                    if "decoder_rss_mb" in summary:
                        decoder_rss = max(decoder_rss, float(summary["decoder_rss_mb"]))
                print(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:,.0f} msg/s" for k, v in results.items()),
                      file=sys.stderr)
            lateness = pacing(broker, broker.identity("bench-pacing"), data, args.pacing_count, work)
            baseline = [x * 1000 for x in bare_sleep_lateness(args.pacing_count)]

    best = {k: max(v) for k, v in results.items()}
    med = {k: statistics.median(v) for k, v in results.items()}
    ms = [x * 1000 for x in lateness]
    k = min(1000, len(ms) // 10)
    load = os.getloadavg()
    rows = [
        ("messages (station-year)", f"{len(payloads)}", ""),
        ("bare awscrt MQTT5 loop, pre-encoded payloads", f"{best['bare']:,.0f} msg/s",
         f"median {med['bare']:,.0f}"),
        ("station run (streaming, default), every PUBACK checked", f"{best['stream']:,.0f} msg/s",
         f"median {med['stream']:,.0f}; ratio {best['stream'] / best['bare']:.2f} (target >= 0.7)"),
        ("station run streaming in one process (DECODE_AHEAD=false)", f"{best['inline']:,.0f} msg/s",
         f"median {med['inline']:,.0f}; ratio {best['inline'] / best['bare']:.2f}"),
        ("station run PRELOAD=true, every PUBACK checked", f"{best['preload']:,.0f} msg/s",
         f"median {med['preload']:,.0f}; ratio {best['preload'] / best['bare']:.2f} (target >= 0.7)"),
        ("station wall time incl. start-up (streaming / one process / preload)",
         f"{min(walls['stream']):.1f} / {min(walls['inline']):.1f} / {min(walls['preload']):.1f} s",
         "preload decodes the file first"),
        ("ISD decode (isd_decoder), per record", f"{parse_s / len(payloads) * 1e6:.0f} us", "in the bench process"),
        ("build + encode (station.build), per record", f"{build_s / len(payloads) * 1e6:.0f} us", ""),
        ("station peak RSS (streaming / one process / preload)",
         f"{rss['stream']:.1f} / {rss['inline']:.1f} / {rss['preload']:.1f} MB",
         "target <= 60 MB; streaming: station + decode-ahead worker's private memory"),
        ("decode-ahead worker's own peak RSS", f"{decoder_rss:.1f} MB", "shared pages included"),
        (f"lateness at 200 msg/s over {len(ms)} messages: p50", f"{percentile(ms, 50):.3f} ms", ""),
        ("lateness p99", f"{percentile(ms, 99):.3f} ms", "target <= 5 ms"),
        ("lateness max", f"{max(ms):.3f} ms", ""),
        ("same deadlines, empty loop (machine baseline): p50 / p99 / max",
         f"{percentile(baseline, 50):.3f} / {percentile(baseline, 99):.3f} / {max(baseline):.3f} ms",
         "scheduler noise of this machine"),
        (f"lateness median, first / last {k}", f"{statistics.median(ms[:k]):.3f} / "
         f"{statistics.median(ms[-k:]):.3f} ms", "equal = no drift"),
        ("load average at the end (1/5/15 min)", " / ".join(f"{x:.1f}" for x in load),
         "other work on the machine skews every figure"),
    ]
    text = [
        "# Station publish benchmark",
        "",
        f"`make bench-publish` on {platform.node()} ({os.cpu_count()} CPUs, Python {platform.python_version()}),"
        f" {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; file `{args.file}`; broker image"
        f" `{os.environ.get('MOSQUITTO_IMAGE', 'weather-fleet/mosquitto:latest')}` (mutual TLS, QoS1); station window"
        f" {args.window}; best of {args.rounds} alternating rounds.",
        "",
        "| measure | value | note |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
    ]
    return write_report(args.out, text)


if __name__ == "__main__":
    sys.exit(main())
