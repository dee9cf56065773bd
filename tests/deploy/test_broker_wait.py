"""`make up` / `make swarm-up` return only once the broker answers, and `make watch` waits a bounded time for a
broker that is still starting (issue 19: `make swarm-up && make watch` failed with AWS_IO_SOCKET_CLOSED while the
broker task started). A real Mosquitto (the project's image and configuration) is started late, on purpose."""

from __future__ import annotations

import contextlib
import io
import shutil
import threading
import time
from pathlib import Path

import pytest

from deploy.broker import wait_for_broker
from deploy.errors import BrokerNotReadyError
from fleetcore.manifest import FleetManifest, Role, Thing, save_manifest
from provisioning.watch import watch
from tests.support.broker import TlsBroker, free_port
from tests.support.certs import TestCA


def fleet_for(ca: TestCA, fleet: Path) -> Path:
    """A fleet folder as `make register` leaves it: broker/ (the broker's identity from the fleet CA), the monitor."""
    ca.issue_server(fleet / "broker")
    shutil.copy(ca.ca_pem, fleet / "broker" / "ca.pem")
    ca.issue_client("monitor", fleet / "things" / "monitor")
    save_manifest(fleet, FleetManifest(target="local", endpoint="broker", prefix="w", things=[
        Thing(thing_name="monitor", role=Role.MONITOR, identity_dir="things/monitor", certificate_sha256="0" * 64)]))
    return fleet


def late(broker: TlsBroker, delay: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), broker.launch()), daemon=True)
    thread.start()
    return thread


def test_nothing_answering_is_a_bounded_wait_naming_the_variable(tmp_path: Path) -> None:
    fleet_for(TestCA(tmp_path / "pki"), tmp_path / "fleet")
    port = free_port()
    start = time.monotonic()
    with pytest.raises(BrokerNotReadyError, match=rf"127.0.0.1:{port} did not answer within 2 s \(BROKER_WAIT_SECONDS\)"):
        wait_for_broker(tmp_path / "fleet", port, 2.0, interval=0.5)
    assert 2.0 <= time.monotonic() - start < 10


def test_up_waits_for_a_broker_that_starts_late(docker_engine: None, tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    broker = TlsBroker(tmp_path / "b", ca)
    try:
        starter = late(broker, 3.0)
        fleet = fleet_for(ca, tmp_path / "fleet")
        waited = wait_for_broker(fleet, broker.port, 90.0, interval=0.5)
        starter.join(60)
        assert waited >= 3.0
        assert wait_for_broker(fleet, broker.port, 1.0) < 1.0  # answering: returns at once
    finally:
        broker.remove()


def test_watch_waits_for_a_starting_broker_and_fails_after_the_bound(docker_engine: None, tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "pki")
    broker = TlsBroker(tmp_path / "b", ca)
    fleet = fleet_for(ca, tmp_path / "fleet")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert watch(fleet, "127.0.0.1", broker.port, timeout=1.0, wait=1.5) == 1
    assert f"cannot connect to 127.0.0.1:{broker.port} with the monitor identity within 1.5 s " \
           "(BROKER_WAIT_SECONDS)" in err.getvalue()
    try:
        starter = late(broker, 3.0)
        err = io.StringIO()
        start = time.monotonic()
        with contextlib.redirect_stderr(err):
            assert watch(fleet, "127.0.0.1", broker.port, timeout=1.0, wait=90.0) == 0
        starter.join(60)
        assert time.monotonic() - start >= 3.0
        assert f"watching sensor/weather/# on 127.0.0.1:{broker.port} as monitor" in err.getvalue()
    finally:
        broker.remove()
