"""`station run` / `send-hello` against a real Mosquitto with mutual TLS (the repository's broker config)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import jsonschema

from isd_decoder import read_isd
from tests.conftest import SMALL_FILE_LINES
from tests.support.broker import HELLO, MONITOR, TlsBroker
from tests.support.certs import TestCA
from tests.support.mqtt import Subscriber
from tests.support.station import StationProcess, fields, monitor, replay_env, station_environment


SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "contracts" / "weather-message.schema.json").read_text())


def test_file_order_consecutive_seq_schema_valid(tls_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    records = list(read_isd(small_file))
    env = replay_env(tls_broker, "ws-order", tmp_path, small_file, INTERVAL="0")
    with monitor(tls_broker, tmp_path) as sub:
        station = StationProcess(env)
        assert station.wait() == 0, station.output
        assert sub.wait_count(len(records), timeout=20), f"{sub.count()} of {len(records)} arrived"
        messages = sub.messages()
    assert len(messages) == len(records)
    assert [m["seq"] for m in messages] == list(range(1, len(records) + 1))
    assert [m["time"] for m in messages] == [r.time.isoformat() for r in records]  # file order, original times
    assert {m["thing_name"] for m in messages} == {"ws-order"}
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for message in messages:
        validator.validate(message)
    summary = fields(station.wait_line(r"summary"))
    assert summary["published"] == summary["acknowledged"] == str(len(records)) and summary["failed"] == "0"
    start = station.wait_line(r"\bstart\b")
    assert "thing=ws-order" in start and f"file={small_file}" in start and "pacing=" in start
    # the checkpoint says finished: a second run has nothing to do and publishes nothing
    again = StationProcess(env)
    assert again.wait() == 0
    assert "nothing to replay" in again.output and sub.count() == len(records)


def test_publish_outside_acl_is_reported_failed(tls_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    env = replay_env(tls_broker, "ws-acl", tmp_path, small_file, INTERVAL="0", TOPIC="sensor/forbidden")
    with monitor(tls_broker, tmp_path, topic="sensor/#") as sub:
        station = StationProcess(env)
        assert station.wait() == 0, station.output
        time.sleep(0.5)
        assert sub.count() == 0
    summary = fields(station.wait_line(r"summary"))
    assert summary["acknowledged"] == "0" and summary["failed"] == str(SMALL_FILE_LINES) \
        and summary["published"] == str(SMALL_FILE_LINES)
    assert "publish-failed NOT_AUTHORIZED" in station.output


def test_certificate_from_another_ca_is_refused(tls_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    rogue = TestCA(tmp_path / "rogue", "rogue CA").issue_client("ws-rogue", tmp_path / "rogue-id",
                                                                broker_ca=tls_broker.ca.ca_pem)
    env = station_environment(**tls_broker.station_env(rogue, DATA_FILE=str(small_file),
                                                       STATE_DIR=str(tmp_path / "state"), CONNECT_TIMEOUT="4"))
    station = StationProcess(env)
    assert station.wait(30) == 1
    failure = station.wait_line(r"ERROR connect-failed could not connect")
    assert f"{tls_broker.host}:{tls_broker.port}" in failure and "as ws-rogue" in failure
    assert "TLS" in failure or "closed the connection" in failure, failure
    assert "IDENTITY_DIR" in failure or "certificate" in failure


def test_speed_matches_recorded_spacing(tls_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    """SPEEDUP=36000: one recorded hour every 0.1 s; arrivals keep the recorded spacing / S."""
    count = 40
    records = list(read_isd(small_file))[:count]
    cut = tmp_path / "head.txt"
    with open(small_file, "rb") as src:
        cut.write_bytes(b"".join(src.readline() for _ in range(count)))
    speedup = 36000.0
    env = replay_env(tls_broker, "ws-speed", tmp_path, cut, SPEEDUP=str(speedup))
    with monitor(tls_broker, tmp_path) as sub:
        station = StationProcess(env)
        assert station.wait() == 0, station.output
        assert sub.wait_count(count, timeout=10)
        arrivals = list(sub.arrivals)
        sent = [datetime.fromisoformat(m["sent_at"]) for m in sub.messages()]
    expected = [(r.time - records[0].time).total_seconds() / speedup for r in records]
    assert expected[-1] > 1.0  # long enough for drift or a wrong factor to show
    # the station's own send times (ms precision) follow the schedule; generous bound for a loaded CI machine
    on_station = [(s - sent[0]).total_seconds() for s in sent]
    errors = [abs(o - e) for o, e in zip(on_station, expected, strict=True)]
    assert max(errors) < 0.1, list(zip(expected, on_station, strict=True))
    # and so do the arrivals at a subscriber: the whole run lasts the recorded span / S within 5 %
    span = arrivals[-1] - arrivals[0]
    assert abs(span - expected[-1]) < max(0.05 * expected[-1], 0.1), (span, expected[-1])


def test_changed_data_file_restarts_cleanly(tls_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    data = tmp_path / "data.txt"
    lines = small_file.read_bytes().splitlines(keepends=True)
    data.write_bytes(b"".join(lines[:30]))
    env = replay_env(tls_broker, "ws-changed", tmp_path, data, INTERVAL="0")
    with monitor(tls_broker, tmp_path) as sub:
        first = StationProcess(env)
        assert first.wait() == 0, first.output
        data.write_bytes(b"".join(lines[100:120]))
        second = StationProcess(env)
        assert second.wait() == 0, second.output
        assert sub.wait_count(50, timeout=10)
        messages = sub.messages()
    reset = second.wait_line("checkpoint-reset")
    assert "data file changed" in reset
    assert [m["seq"] for m in messages] == list(range(1, 51))  # seq continues, never goes back
    assert messages[30]["time"] == list(read_isd(data))[0].time.isoformat()  # starts at line 1 of the new file


def test_send_hello(tls_broker: TlsBroker, tmp_path: Path) -> None:
    hello = tls_broker.identity(HELLO)
    with Subscriber(tls_broker.host, tls_broker.port, tls_broker.ca.issue_client(MONITOR, tmp_path / "m"),
                    topic="hello/world", client_id="monitor-watch-hello") as sub:
        ok = StationProcess(station_environment(**tls_broker.station_env(hello)), "send-hello", "--count", "3",
                            "--interval", "0")
        assert ok.wait() == 0, ok.output
        assert sub.wait_count(3, timeout=10)
        assert [m["count"] for m in sub.messages()] == [1, 2, 3]
    # a station identity may not publish to hello/world: every message is reported failed, exit 1
    station = tls_broker.identity("ws-hello")
    denied = StationProcess(station_environment(**tls_broker.station_env(station)), "send-hello", "-n", "2",
                            "--interval", "0")
    assert denied.wait() == 1
    assert "NOT_AUTHORIZED" in denied.output and "failed=2" in denied.output


def test_missing_certificate_is_one_clear_line(tmp_path: Path, small_file: Path) -> None:
    env = station_environment(THING_NAME="ws-none", IDENTITY_DIR=str(tmp_path / "things" / "ws-none"),
                              DATA_FILE=str(small_file), MQTT_PORT="1")
    station = StationProcess(env)
    assert station.wait() == 2
    line = station.wait_line("config")
    assert str(tmp_path / "things" / "ws-none" / "certificate.pem") in line and "make register" in line
    bad = StationProcess(dict(env, SPEEDUP="fast"))
    assert bad.wait() == 2 and "invalid SPEEDUP='fast'" in bad.output


def test_damaged_lines_are_skipped_and_named(tls_broker: TlsBroker, tmp_path: Path, small_file: Path) -> None:
    lines = small_file.read_bytes().splitlines(keepends=True)[:30]
    lines[9] = b"this is not an ISD record\n"
    data = tmp_path / "damaged.txt"
    data.write_bytes(b"".join(lines))
    env = replay_env(tls_broker, "ws-damaged", tmp_path, data, INTERVAL="0")
    with monitor(tls_broker, tmp_path) as sub:
        station = StationProcess(env)
        assert station.wait() == 0, station.output
        assert sub.wait_count(29, timeout=10)
        time.sleep(0.3)
        messages = sub.messages()
    assert [m["seq"] for m in messages] == list(range(1, 30))  # nothing else lost, seq has no hole
    skipped = station.wait_line("line-skipped")
    assert fields(skipped)["line"] == "10" and "line 10:" not in skipped
    assert fields(station.wait_line("summary"))["skipped_lines"] == "1"
