"""End to end on a real Docker engine: register, compose up (broker + five stations), watch, security, down.

One compose project serves the whole module (building and starting it is the slow part); it is always torn down.
The last test runs `make down` and checks that no container of the project is left.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from fleetcore.topic import monitor_filter
from fleetcore.manifest import load_manifest
from provisioning.mqtt import IdentityClient
from provisioning.register_local import LocalFleetRequest, register_local
from tests.support.compose_fleet import REPO, ComposeFleet

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SCHEMA = json.loads((REPO / "contracts" / "weather-message.schema.json").read_text())
# Built once: `jsonschema.validate` re-checks the schema on every call (~0.1 s each).
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
NOT_AUTHORIZED = 0x87
DOCKER_DNS = "0B00007F"  # 127.0.0.11 as /proc/net/tcp writes it
# Fast enough to see many messages within seconds, slow enough to stay modest on 2 cores.
STATION_ENV = {"SPEEDUP": "12000", "PROGRESS_INTERVAL": "1", "LOG_FORMAT": "text", "LOOP": "false",
               "TIME_MODE": "original", "TOPIC": "sensor/weather"}


@pytest.fixture(scope="module")
def fleet(docker_engine: None, station_years_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeFleet]:
    f = ComposeFleet(tmp_path_factory.mktemp("compose"), station_years_dir, **STATION_ENV)
    f.register()
    try:
        f.compose("build", "station-1")
        f.compose("up", "-d", "broker")
        f.wait_healthy("broker")
        yield f
    finally:
        f.teardown()


@pytest.fixture(scope="module")
def monitor(fleet: ComposeFleet) -> Iterator[IdentityClient]:
    """The monitor identity subscribed to what its ACL lets it read (TOPIC and below) before the stations start
    (so nothing is missed)."""
    client = IdentityClient(fleet.fleet_dir / "things" / "monitor", "127.0.0.1", fleet.port, retry=True)
    with client:
        assert client.wait_connected(20), client.connect_error
        assert [int(c) for c in client.subscribe(monitor_filter(STATION_ENV["TOPIC"]))] == [1]
        fleet.compose("up", "-d")
        yield client


def test_monitor_receives_valid_increasing_messages_from_all_five(fleet: ComposeFleet,
                                                                   monitor: IdentityClient) -> None:
    manifest = load_manifest(fleet.fleet_dir)
    expected = {t.thing_name: t.station_id for t in manifest.stations()}
    assert len(expected) == 5
    seqs: dict[str, list[int]] = defaultdict(list)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(seqs) < 5 or min(len(v) for v in seqs.values()) < 20):
        try:
            msg = monitor.messages.get(timeout=1)
        except queue.Empty:
            continue
        assert msg.topic == "sensor/weather"
        doc = json.loads(msg.payload)
        VALIDATOR.validate(doc)
        assert doc["thing_name"] in expected, doc["thing_name"]
        # weather_station identifies the replayed station (USAF-WBAN, not the ambiguous USAF alone).
        assert expected[doc["thing_name"]].split("-")[0] in doc["weather_station"]
        seqs[doc["thing_name"]].append(doc["seq"])
    silent = sorted(set(expected) - set(seqs))
    assert not silent, f"nothing from {silent}; logs of station-{silent[0][-1]}:\n" + \
        fleet.logs(f"station-{list(expected).index(silent[0]) + 1}")[-3000:]
    for thing, values in seqs.items():
        assert len(values) >= 20, f"{thing}: only {len(values)} messages in 120 s"
        assert all(b > a for a, b in zip(values, values[1:])), f"{thing}: seq not increasing: {values[:50]}"


def test_station_logs_show_progress(fleet: ComposeFleet, monitor: IdentityClient) -> None:
    deadline = time.monotonic() + 30
    logs = ""
    while time.monotonic() < deadline:
        logs = fleet.logs("station-3")
        if "progress" in logs:
            break
        time.sleep(1)
    assert "progress" in logs, logs[-2000:]


def test_stations_are_healthy_and_not_root(fleet: ComposeFleet, monitor: IdentityClient) -> None:
    fleet.wait_healthy("station-1", timeout=60)
    cid = fleet.container_id("station-1")
    user = subprocess.run(["docker", "inspect", "-f", "{{.Config.User}}", cid], capture_output=True, text=True)
    assert user.stdout.strip() and not user.stdout.strip().startswith(("0", "root"))
    uid = subprocess.run(["docker", "exec", cid, "id", "-u"], capture_output=True, text=True).stdout.strip()
    assert uid not in ("", "0")


# --- security -------------------------------------------------------------------------------------------------

def test_identity_from_another_ca_is_refused(fleet: ComposeFleet, tmp_path: Path, data_dir: Path) -> None:
    register_local(LocalFleetRequest(fleet_dir=tmp_path / "foreign", data_dir=data_dir, count=1))
    # Same thing name, trusted server: only the client certificate's issuer differs.
    client = IdentityClient(tmp_path / "foreign" / "things" / "weather-station-1", "127.0.0.1", fleet.port,
                            ca_file=fleet.fleet_dir / "ca" / "ca.pem")
    with client:
        assert not client.wait_connected(10)
        assert client.connect_error


def test_station_publishing_elsewhere_is_refused(fleet: ComposeFleet, monitor: IdentityClient) -> None:
    # The broker accepts station-2's certificate only as client id weather-station-2 (fleet_identity plugin):
    # take the service's place instead of kicking it off.
    fleet.compose("stop", "station-2")
    try:
        intruder = IdentityClient(fleet.fleet_dir / "things" / "weather-station-2", "127.0.0.1", fleet.port,
                                  client_id="weather-station-2-intruder")
        with intruder:
            assert not intruder.wait_connected(10)
        client = IdentityClient(fleet.fleet_dir / "things" / "weather-station-2", "127.0.0.1", fleet.port)
        with client:
            assert client.wait_connected(10), client.connect_error
            assert int(client.publish("sensor/other", b'{"forged": true}')) == NOT_AUTHORIZED
            assert int(client.publish("hello/world", b"x")) == NOT_AUTHORIZED
    finally:
        fleet.compose("start", "station-2")
    _assert_not_delivered(monitor, b"forged")


def test_station_container_reports_publishes_to_a_forbidden_topic_as_failed(fleet: ComposeFleet,
                                                                            monitor: IdentityClient) -> None:
    """The real station, given a topic its ACL does not allow, counts every publish as failed."""
    fleet.compose("stop", "station-2")  # one connection per client id: take the service's place
    name = f"{fleet.project}-forbidden"
    try:
        fleet.compose("run", "-d", "--no-deps", "--name", name, "-e", "TOPIC=sensor/forbidden",
                      "-e", "PROGRESS_INTERVAL=1", "station-2")
        deadline, logs, failed = time.monotonic() + 60, "", 0
        while time.monotonic() < deadline and failed == 0:
            time.sleep(1)
            out = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30)
            logs = out.stdout + out.stderr
            failed = max([int(m) for m in re.findall(r"\bfailed=(\d+)", logs)] or [0])
        assert failed > 0, logs[-3000:]
        assert not re.search(r"\backed=[1-9]", logs), "a forbidden publish was acknowledged"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)
    _assert_not_delivered(monitor, b"", topic="sensor/forbidden", wait=1.0)


def test_monitor_cannot_publish(fleet: ComposeFleet, monitor: IdentityClient) -> None:
    client = IdentityClient(fleet.fleet_dir / "things" / "monitor", "127.0.0.1", fleet.port,
                            client_id="monitor-watch-publisher")
    with client:
        assert client.wait_connected(10), client.connect_error
        assert int(client.publish("sensor/weather", b'{"forged-by-monitor": true}')) == NOT_AUTHORIZED
    _assert_not_delivered(monitor, b"forged-by-monitor")


def test_no_listener_accepts_an_anonymous_client(fleet: ComposeFleet) -> None:
    cid = fleet.container_id("broker")
    certs = "/mosquitto/certs"
    attempts = {
        # TLS with a trusted server but no client certificate.
        "tls-no-cert": ["mosquitto_sub", "-h", "localhost", "-p", "8883", "--cafile", f"{certs}/ca.pem",
                        "-t", "#", "-C", "1", "-W", "5"],
        # The plain MQTT ports Mosquitto usually listens on.
        "plain-1883": ["mosquitto_sub", "-h", "localhost", "-p", "1883", "-t", "#", "-C", "1", "-W", "5"],
        "plain-8883": ["mosquitto_sub", "-h", "localhost", "-p", "8883", "-t", "#", "-C", "1", "-W", "5"],
    }
    for name, cmd in attempts.items():
        out = subprocess.run(["docker", "exec", cid, *cmd], capture_output=True, text=True, timeout=30)
        assert out.returncode != 0, f"{name}: anonymous client accepted: {out.stdout}{out.stderr}"
    # And the only listening TCP port in the broker is the mutual-TLS one.
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = subprocess.run(["docker", "exec", cid, "cat", table], capture_output=True, text=True).stdout
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":  # LISTEN
                address, port = fields[1].rsplit(":", 1)
                if address != DOCKER_DNS:  # Docker's embedded DNS resolver, not the broker
                    ports.add(int(port, 16))
    assert ports == {8883}


def test_make_down_leaves_no_container(fleet: ComposeFleet) -> None:
    assert fleet.containers(), "the fleet should be running before `make down`"
    out = fleet.make("down")
    assert out.returncode == 0, out.stdout + out.stderr
    assert fleet.containers() == []


def _assert_not_delivered(monitor: IdentityClient, marker: bytes, *, topic: str | None = None,
                          wait: float = 2.0) -> None:
    """Nothing carrying `marker` (on `topic`, when given) reaches the monitor within `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            msg = monitor.messages.get(timeout=0.2)
        except queue.Empty:
            continue
        if topic is None or msg.topic == topic:
            assert marker not in msg.payload, f"refused publish was delivered on {msg.topic}"
