"""The bare awscrt baseline of `make bench-density`: the same clients as a group, with nothing else.

One worker process per group, in a container of the station image on the fleet's network: the group's identities (client id = thing name, mutual TLS, the project's MQTT5
options from `fleetcore.mqtt`: persistent session, keep-alive, one shared event-loop thread), QoS1 publishes of a
message-sized payload to the same topic at the group's share of the rate, round robin over its clients on absolute
deadlines, PUBACK futures collected in order. No replay, no checkpoints, no status: what any Python awscrt client
pays per message with that many connections. The worker prints one JSON line: published, acknowledged, failed,
disconnects and its own CPU seconds over the measuring window.

    python scripts/bare_loop.py --host 127.0.0.1 --port P --identities DIR --names a,b,... --rate R
                                [--settle 5] [--window 20] [--connect-rate 200]
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout; in the station image: installed

from awscrt import io, mqtt5  # noqa: E402

from fleetcore.identity import IdentityFiles  # noqa: E402
from fleetcore.mqtt import Callbacks, MqttOptions, mtls_client  # noqa: E402

PAYLOAD_BYTES = 700  # about one ISD message as a station sends it


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(host: str, port: int, identities: Path, names: list[str], rate: float, settle: float, window: float,
        connect_rate: float, topic: str = "sensor/weather") -> dict[str, float]:
    elg = io.EventLoopGroup(1)
    bootstrap = io.ClientBootstrap(elg, io.DefaultHostResolver(elg))
    connected = threading.Semaphore(0)
    counts = collections.Counter()

    def on_success(_data: object) -> None:
        counts["connects"] += 1
        connected.release()

    def on_disconnect(_data: object) -> None:
        counts["disconnects"] += 1

    clients = []
    for name in names:
        folder = identities / name
        ca = folder / "ca.pem"
        options = MqttOptions(host=host, port=port, client_id=name, bootstrap=bootstrap,
                              identity=IdentityFiles(folder / "certificate.pem", folder / "private.key",
                                                     ca if ca.is_file() else None))
        clients.append(mtls_client(options, Callbacks(on_success=on_success, on_disconnect=on_disconnect)))
    for client in clients:
        client.start()
        time.sleep(1.0 / connect_rate)
    for _ in clients:
        if not connected.acquire(timeout=120):
            raise SystemExit(f"bare loop: only {counts['connects']} of {len(clients)} connected after 120 s")
    payloads = [json.dumps({"thing_name": name, "seq": 0, "pad": "x" * PAYLOAD_BYTES}).encode() for name in names]
    inflight: collections.deque = collections.deque()
    published = acked = failed = 0
    gap, n = 1.0 / rate, len(clients)
    start = time.monotonic()
    measure_from, end = start + settle, start + settle + window
    cpu0 = acked0 = None
    i = 0
    while True:
        now = time.monotonic()
        if cpu0 is None and now >= measure_from:
            cpu0, acked0, t0 = cpu_seconds(), acked, now
        if now >= end:
            break
        due = start + i * gap
        if due > now:
            while inflight and inflight[0].done():
                f = inflight.popleft()
                try:
                    f.result()
                    acked += 1
                except Exception:  # noqa: BLE001 - counted
                    failed += 1
            time.sleep(max(0.0, min(due, end) - time.monotonic()))
            continue
        k = i % n
        inflight.append(clients[k].publish(mqtt5.PublishPacket(topic=topic, payload=payloads[k],
                                                               qos=mqtt5.QoS.AT_LEAST_ONCE)))
        published += 1
        i += 1
    cpu1, t1 = cpu_seconds(), time.monotonic()
    acked_window = acked - (acked0 or 0)
    for f in inflight:
        try:
            f.result(timeout=30)
            acked += 1
        except Exception:  # noqa: BLE001 - counted
            failed += 1
    for client in clients:
        client.stop()
    return dict(clients=n, published=published, acknowledged=acked, failed=failed,
                disconnects=counts["disconnects"], cpu_s=cpu1 - (cpu0 or cpu1), window_s=t1 - t0,
                acked_window=acked_window)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--identities", type=Path, required=True, help="folder of <thing>/ identity folders")
    parser.add_argument("--names", required=True, help="comma-separated thing names (client ids)")
    parser.add_argument("--rate", type=float, required=True, help="publishes per second of this worker")
    parser.add_argument("--settle", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--connect-rate", type=float, default=200.0)
    args = parser.parse_args()
    result = run(args.host, args.port, args.identities, args.names.split(","), args.rate, args.settle, args.window,
                 args.connect_rate)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
