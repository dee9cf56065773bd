"""The broker's effective mosquitto.conf: `docker/broker/mosquitto.conf` (the template, valid as shipped with AWS
IoT Core's limits) with the two message limits set from BROKER_MAX_PAYLOAD_BYTES and
BROKER_MAX_PUBLISHES_PER_SECOND (0 = off).

`make register` (`python -m deploy write`, TARGET=local) writes it to `<fleet>/mosquitto.conf` beside compose.env,
and `make up` / `make swarm-up` write it again from their own environment before they start the broker (`make up`
recreates a running broker whose copy differs: compose's bind mount keeps the old file). Compose mounts it
at /mosquitto/config/mosquitto.conf, the Swarm stack makes it a config. Invariant: the template sets each limit
on exactly one line, and only those lines change (an option set to 0 is commented out where Mosquitto has no
"off" value).
"""

from __future__ import annotations

from pathlib import Path

from deploy.errors import ConfigError
from deploy.settings import BrokerLimits
from fleetcore.files import write_if_changed

TEMPLATE = Path(__file__).resolve().parents[1] / "docker" / "broker" / "mosquitto.conf"
CONFIG_FILE = "mosquitto.conf"
PAYLOAD_OPTION = "max_packet_size"
RATE_OPTION = "plugin_opt_max_publishes_per_second"


def broker_config_path(fleet_dir: Path) -> Path:
    return Path(fleet_dir) / CONFIG_FILE


def render_broker_config(max_payload_bytes: int, max_publishes_per_second: int, template: str | None = None) -> str:
    """The template with `max_packet_size` (absent when 0: Mosquitto's "no limit") and the plugin's publish rate
    (0: no limit) replaced."""
    text = TEMPLATE.read_text() if template is None else template
    lines = text.splitlines()
    values = {PAYLOAD_OPTION: (f"{PAYLOAD_OPTION} {max_payload_bytes}" if max_payload_bytes
                               else f"# {PAYLOAD_OPTION}: off (BROKER_MAX_PAYLOAD_BYTES=0)"),
              RATE_OPTION: f"{RATE_OPTION} {max_publishes_per_second}"}
    for option, line in values.items():
        found = [i for i, old in enumerate(lines) if old.split(maxsplit=1)[:1] == [option]]
        if len(found) != 1:
            raise ConfigError(f"{TEMPLATE} should set {option} on exactly one line, not {len(found)}")
        lines[found[0]] = line
    return "\n".join(lines) + "\n"


def broker_config_text(limits: BrokerLimits) -> str:
    return render_broker_config(limits.broker_max_payload_bytes, limits.broker_max_publishes_per_second)


def write_broker_config(fleet_dir: Path, limits: BrokerLimits) -> bool:
    """Write `<fleet>/mosquitto.conf`; True when it changed."""
    return write_if_changed(broker_config_path(fleet_dir), broker_config_text(limits).encode())
