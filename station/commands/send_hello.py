"""`station send-hello`: the lab's first step, N QoS1 messages to `hello/world` from one identity.

Uses the same connection settings as `station run` (THING_NAME, TARGET, MQTT_HOST, MQTT_PORT, IDENTITY_DIR) and
the same publisher, so every PUBACK is checked. Exit 0 when every message was acknowledged, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from datetime import datetime, timezone

from station.logging_setup import configure, emit
from fleetcore.errors import exit_code
from station.errors import ConnectError, StationError
from station.engine.connect import connection_config
from station.publisher import Publisher
from station.settings import ConnectionSettings, check_identity, load_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", "-n", type=int, default=10, help="messages to send (default 10)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages (default 1)")
    parser.add_argument("--topic", default="hello/world", help="default hello/world")
    parser.add_argument("--message", default="Hello World!", help="text of each message")
    parser.epilog = "Connection settings: THING_NAME, TARGET, MQTT_HOST, MQTT_PORT, IDENTITY_DIR (see .env.example)."


def run(args: argparse.Namespace) -> int:
    log = configure("json" if os.environ.get("LOG_FORMAT", "").lower() == "json" else "text")
    if args.count < 1 or args.interval < 0:
        emit(log, logging.ERROR, "config", "--count must be >= 1 and --interval >= 0")
        return 2
    try:
        settings = load_settings(ConnectionSettings)
        check_identity(settings)
    except StationError as exc:
        for line in str(exc).splitlines():
            emit(log, logging.ERROR, "config", line)
        return exit_code(exc)
    config = connection_config(settings, settings.thing_name, settings.identity)
    publisher = Publisher(config, args.topic, max_inflight=args.count)
    stop = threading.Event()
    publisher.start()
    acked = failed = 0
    try:
        try:
            publisher.wait_connected(settings.connect_timeout, stop)
        except ConnectError as exc:
            emit(log, logging.ERROR, "connect-failed", str(exc))
            return 1
        for i in range(1, args.count + 1):
            payload = {"message": args.message, "thing_name": settings.thing_name, "count": i,
                       "sent_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
            publisher.acquire_slot(stop)
            publisher.publish(json.dumps(payload).encode(), i)
            emit(log, logging.INFO, "sent", f"{args.topic}", count=i)
            if i < args.count:
                time.sleep(args.interval)
        publisher.wait_idle(30)
        for completion in publisher.drain_completions():
            if completion.ok:
                acked += 1
            else:
                failed += 1
                emit(log, logging.ERROR, "publish-failed", completion.reason or "failed", count=completion.token,
                     topic=args.topic)
    finally:
        publisher.stop()
    emit(log, logging.INFO, "summary", "", topic=args.topic, sent=args.count, acknowledged=acked, failed=failed,
         unacknowledged=args.count - acked - failed)
    return 0 if acked == args.count else 1
