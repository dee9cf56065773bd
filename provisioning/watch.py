"""`python -m provisioning watch`: subscribe with the monitor identity and print what the stations publish."""

from __future__ import annotations

import json
import queue
import sys
import time
from pathlib import Path
from typing import TextIO

from fleetcore.topic import monitor_filter
from fleetcore.manifest import MONITOR_THING, load_manifest
from provisioning.mqtt import IdentityClient


def watch(fleet_dir: Path, host: str, port: int, *, topic_filter: str | None = None, limit: int = 0,
          timeout: float = 0.0, wait: float = 0.0, out: TextIO = sys.stdout) -> int:
    """Print `topic thing seq station (name) time` per message (or raw payload when not JSON); 0 on success.

    `topic_filter` defaults to what the monitor may read: the manifest's TOPIC and below. Station names come
    from the manifest (catalogue metadata written at registration), when it has them. `wait` > 0: a broker that
    refuses the connection (still starting) is retried for up to `wait` seconds; 0: the first refusal fails.
    """
    manifest = load_manifest(fleet_dir)
    names = {t.station_id: t.station_name for t in manifest.stations() if t.station_id and t.station_name}
    monitor = manifest.thing(MONITOR_THING)
    topic_filter = topic_filter or monitor_filter(manifest.topic)
    client = IdentityClient(Path(fleet_dir) / monitor.identity_dir, host, port, retry=True)
    with client:
        connected = client.wait_until_connected(wait) if wait > 0 else client.wait_connected(15)
        if not connected:
            within = f" within {wait:g} s (BROKER_WAIT_SECONDS)" if wait > 0 else ""
            print(f"cannot connect to {host}:{port} with the monitor identity{within}: "
                  f"{client.connect_error or 'timeout'} (is the broker up? `make up`; BROKER_PORT sets the host port)",
                  file=sys.stderr)
            return 1
        codes = client.subscribe(topic_filter)
        if any(int(c) >= 0x80 for c in codes):
            print(f"subscription to {topic_filter!r} refused: {codes}", file=sys.stderr)
            return 1
        print(f"watching {topic_filter} on {host}:{port} as {MONITOR_THING} (Ctrl-C to stop)", file=sys.stderr)
        seen, deadline = 0, (time.monotonic() + timeout) if timeout else None
        try:
            while not limit or seen < limit:
                wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                try:
                    msg = client.messages.get(timeout=wait)
                except queue.Empty:
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    continue
                seen += 1
                print(_describe(msg.topic, msg.payload, names), file=out, flush=True)
        except KeyboardInterrupt:
            pass
    return 0 if seen or not limit else 1


def _describe(topic: str, payload: bytes, names: dict[str, str] | None = None) -> str:
    try:
        doc = json.loads(payload)
    except ValueError:
        return f"{topic} {payload[:200]!r}"
    if not isinstance(doc, dict):
        return f"{topic} {payload[:200]!r}"
    temp = (doc.get("air_temperature") or {}).get("value")
    station = doc.get("weather_station", "?")
    name = (names or {}).get(station)
    label = f"{station} ({name})" if name else station
    return (f"{topic} {doc.get('thing_name', '?')} seq={doc.get('seq', '?')} "
            f"station={label} time={doc.get('time', '?')} air_temperature={temp}")
