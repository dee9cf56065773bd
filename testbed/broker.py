"""A real Mosquitto broker for tests: the project's `docker/broker/mosquitto.conf` with a throw-away PKI.

`TlsBroker` starts testcontainers' `MosquittoContainer` (image from env `MOSQUITTO_IMAGE`, default
`weather-fleet/mosquitto:latest`: an image built from docker/broker, which holds the fleet_identity plugin that
mosquitto.conf loads) with the repository's broker configuration: mutual TLS on 8883, client certificate CN as
the username and as the only client id it may use (docs/security.md), an ACL (`default_acl`, or the one
provisioning writes: `provisioned_acl`). Certificates and the ACL are mounted at `/mosquitto/certs` exactly as
compose mounts `.fleet/broker/`. The configuration is the one `make up` writes (deploy.broker_config), with
the payload limit of AWS IoT Core (128 KB) and no per-connection publish limit unless `max_publishes_per_second`
is given: tests replaying at INTERVAL=0 publish faster than AWS allows, and the limits have their own tests
(tests/fleet/test_broker_aws_limits.py). Port 8883 is bound to a fixed free host port so the broker can be stopped and
started again (outage tests) without the address changing; the container keeps its persistence across such a
restart.

The pytest fixtures (`test_ca`, `tls_broker`) are in tests/support/broker.py; the benchmarks use `TlsBroker`
directly.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from pathlib import Path

from deploy.broker_config import render_broker_config
from fleetcore.aws_limits import IOT_MAX_PAYLOAD_BYTES
from fleetcore.identity import MONITOR_THING
from fleetcore.topic import DEFAULT_TOPIC
from provisioning.register_local import render_acl
from testbed.certs import Identity, TestCA

DEFAULT_IMAGE = "weather-fleet/mosquitto:latest"
TLS_PORT = 8883
READY_LINE = "running"
MONITOR = MONITOR_THING
HELLO = "hello"

# The reaper image cannot be pulled offline; containers are stopped explicitly instead.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def broker_image() -> str:
    """The Mosquitto image tests run: env `MOSQUITTO_IMAGE` (CI: local/mosquitto:ci) or the official image."""
    return os.environ.get("MOSQUITTO_IMAGE") or DEFAULT_IMAGE


def default_acl(station_topic: str = DEFAULT_TOPIC) -> str:
    """The session broker's ACL: provisioning's (monitor reads TOPIC and below, the broker reads $SYS) plus
    test-only grants, because tests make identities on the fly: every identity may publish to `station_topic`
    only; `monitor` also reads everything (tests observe what a real monitor may not); `hello` may use
    hello/world (the lab's first step). Mosquitto adds a second `user` block's lines to the first's."""
    return provisioned_acl([], station_topic) + (
        "\n# --- test-only grants (not in a real fleet's ACL) ---\n"
        f"pattern write {station_topic}\n"
        f"\nuser {MONITOR}\n"
        "topic read #\n"
        f"\nuser {HELLO}\n"
        "topic readwrite hello/world\n"
    )


def provisioned_acl(stations: list[str], topic: str = DEFAULT_TOPIC) -> str:
    """The ACL `make register` writes for `stations` (each may publish `topic`; the monitor reads `topic` and
    below), by provisioning's own rendering."""
    return render_acl(stations, topic)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TlsBroker:
    """A Mosquitto container with mTLS on a fixed host port; `stop()`/`start()` simulate an outage."""

    def __init__(self, workdir: Path, ca: TestCA, *, acl: str | None = None, image: str | None = None,
                 max_payload_bytes: int = IOT_MAX_PAYLOAD_BYTES, max_publishes_per_second: int = 0) -> None:
        self.workdir = Path(workdir)
        self.limits = (max_payload_bytes, max_publishes_per_second)
        self.ca = ca
        self.acl = acl if acl is not None else default_acl()
        self.image = image or broker_image()
        # The port is bound on every host interface; env BROKER_TEST_HOST overrides (it must be in the server SAN).
        self.host = os.environ.get("BROKER_TEST_HOST", "localhost")
        self.port = free_port()
        self.certs_dir = self.workdir / "broker-certs"
        self._container = None  # testcontainers MosquittoContainer

    # --- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> TlsBroker:
        self.launch()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def launch(self) -> None:
        """Write certificates and ACL, create and start the container, wait until Mosquitto runs."""
        from testcontainers.community.mqtt import MosquittoContainer

        self.certs_dir.mkdir(parents=True, exist_ok=True)
        try:
            ips = tuple(dict.fromkeys(("127.0.0.1", str(ipaddress.ip_address(self.host)))))
            names: tuple[str, ...] = ("localhost", "broker")
        except ValueError:
            ips, names = ("127.0.0.1",), tuple(dict.fromkeys(("localhost", "broker", self.host)))
        self.ca.issue_server(self.certs_dir, dns_names=names, ips=ips)
        (self.certs_dir / "ca.pem").write_bytes(self.ca.ca_pem.read_bytes())
        (self.certs_dir / "acl").write_text(self.acl)
        # Mosquitto drops root before reading certificates and the ACL: make the bind mount readable.
        for path in [self.workdir, self.certs_dir, *self.certs_dir.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        container = MosquittoContainer(image=self.image)
        container.with_volume_mapping(str(self.certs_dir), "/mosquitto/certs", "ro")
        container.with_bind_ports(TLS_PORT, self.port)
        self._container = container
        container.start(configfile=str(self._config()))
        self._wait_ready(1)

    def stop(self) -> None:
        """Stop the broker (SIGTERM: Mosquitto saves its persistence). The container and its port stay."""
        self._wrapped().stop(timeout=10)

    def start(self) -> None:
        """Start the stopped broker again on the same port and wait until it accepts connections."""
        before = self._ready_count()
        self._wrapped().start()
        self._wait_ready(before + 1)

    def restart(self, outage_s: float = 0.0) -> None:
        self.stop()
        time.sleep(outage_s)
        self.start()

    def remove(self) -> None:
        if self._container is not None:
            try:
                self._container.stop()
            finally:
                self._container = None

    # --- helpers --------------------------------------------------------------------------------------------
    def _config(self) -> Path:
        """The broker's mosquitto.conf as `make up` writes it, with this broker's limits."""
        path = self.workdir / "mosquitto.conf"
        path.write_text(render_broker_config(*self.limits))
        path.chmod(0o644)
        return path

    def logs(self) -> str:
        out, err = self._container.get_logs()  # type: ignore[union-attr]
        return (out + err).decode(errors="replace")

    def identity(self, name: str, directory: Path | None = None) -> Identity:
        """A client identity for `name` signed by this broker's CA."""
        return self.ca.issue_client(name, directory or self.workdir / "things" / name)

    def station_env(self, identity: Identity, **extra: str) -> dict[str, str]:
        """The station variables pointing at this broker for `identity` (merge into os.environ)."""
        env = {
            "THING_NAME": identity.name,
            "TARGET": "local",
            "MQTT_HOST": self.host,
            "MQTT_PORT": str(self.port),
            "IDENTITY_DIR": str(identity.directory),
        }
        env.update(extra)
        return env

    def _wrapped(self):  # docker.models.containers.Container
        assert self._container is not None, "broker not launched"
        return self._container.get_wrapped_container()

    def _ready_count(self) -> int:
        return sum(1 for line in self.logs().splitlines() if "mosquitto version" in line and READY_LINE in line)

    def _wait_ready(self, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready_count() >= count:
                return
            self._wrapped().reload()
            if self._wrapped().status == "exited":
                raise RuntimeError(f"mosquitto exited:\n{self.logs()}")
            time.sleep(0.1)
        raise TimeoutError(f"mosquitto not ready after {timeout} s:\n{self.logs()}")
