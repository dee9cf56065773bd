"""The running broker: its ACL reloaded when the fleet changed, its configuration compared with the fleet's, and
waiting until it answers.

A running broker holds the copy of the ACL made when it started. When `make register` changed the fleet,
`reload_acl` copies the new ACL in and sends SIGHUP (Mosquitto re-reads acl_file): new stations may publish,
and nobody is disconnected. The copy is made beside the old one and renamed over it (the broker's root keeps no
DAC_OVERRIDE to write a file of the mosquitto user), and the signal comes from the host (nor CAP_KILL to signal
that user's process).

`wait_for_broker` is what `make up` and `make swarm-up` end with: a mutual-TLS handshake with the broker's own
certificate (the one its healthcheck uses) on the host port, retried until it succeeds or the time is up. A
relay or published port that accepts while the broker behind it still starts closes the connection instead.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from deploy.errors import BrokerNotReadyError
from fleetcore.identity import BROKER_DIR, CA_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE

SOURCE_ACL = "/run/fleet-broker/acl"
LIVE_ACL = "/mosquitto/certs/acl"
LIVE_CONFIG = "/mosquitto/config/mosquitto.conf"
COPY_ACL = (f"cp {SOURCE_ACL} {LIVE_ACL}.new && chmod 0600 {LIVE_ACL}.new && "
            f"chown mosquitto:mosquitto {LIVE_ACL}.new && mv -f {LIVE_ACL}.new {LIVE_ACL}")


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def reload_acl(container: str, docker: Callable[..., subprocess.CompletedProcess[str]] = _docker) -> bool:
    """Make the running broker `container` re-read the fleet's ACL when it changed; True when it was reloaded.
    Nothing happens when there is no container, it is not running, or its ACL is already the fleet's."""
    if not container or docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() != "true":
        return False
    if docker("exec", container, "cmp", "-s", SOURCE_ACL, LIVE_ACL).returncode == 0:
        return False
    print("broker: the fleet changed, reloading its ACL")
    for args in (("exec", container, "sh", "-c", COPY_ACL), ("kill", "--signal", "HUP", container)):
        done = docker(*args)
        if done.returncode != 0:
            raise BrokerNotReadyError(f"broker: `docker {' '.join(args[:2])}` failed: {done.stderr.strip()} "
                                      f"(run `make broker-reload` again, or `make down && make up`)")
    return True


def running_config_differs(container: str, config: str,
                           docker: Callable[..., subprocess.CompletedProcess[str]] = _docker) -> bool:
    """True when the running broker `container` holds a mosquitto.conf other than `config` (its limits changed
    since it started); False when there is no running container."""
    if not container or docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() != "true":
        return False
    live = docker("exec", container, "cat", LIVE_CONFIG)
    return live.returncode != 0 or live.stdout != config


def tls_context(fleet_dir: Path) -> ssl.SSLContext:
    """Client context with the broker's own identity (CN broker), trusting the fleet CA."""
    broker = Path(fleet_dir) / BROKER_DIR
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(broker / CA_FILE))
    ctx.load_cert_chain(str(broker / SERVER_CERT_FILE), str(broker / SERVER_KEY_FILE))
    return ctx


def answers(host: str, port: int, ctx: ssl.SSLContext, timeout: float = 3.0) -> str | None:
    """None when a TLS handshake with the broker succeeds; else why not (one line)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.settimeout(timeout)
            return None
    except (OSError, ssl.SSLError) as exc:
        return str(exc) or type(exc).__name__


def wait_for_broker(fleet_dir: Path, port: int, timeout: float, host: str = "127.0.0.1",
                    interval: float = 1.0) -> float:
    """Return once the broker on host:port answers (seconds waited); BrokerNotReadyError after `timeout`."""
    ctx = tls_context(fleet_dir)
    start = time.monotonic()
    while (why := answers(host, port, ctx)) is not None:
        if time.monotonic() - start >= timeout:
            raise BrokerNotReadyError(
                f"the broker on {host}:{port} did not answer within {timeout:g} s (BROKER_WAIT_SECONDS): {why}; "
                f"`make ps` / `make swarm-ps` show its state, `make logs` why")
        time.sleep(interval)
    return time.monotonic() - start
