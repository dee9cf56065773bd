"""docker/broker/mosquitto.conf names identities and ids that live in Python: keep both sides in step."""

from __future__ import annotations

from pathlib import Path

from fleetcore.identity import LAKE_CLIENT_ID, MONITOR_THING, WATCH_CLIENT_PREFIX
from pipeline.monitor import PUBLISHER_PROPERTY
from provisioning.register_local import BROKER_COMMON_NAME

CONF = Path(__file__).resolve().parents[2] / "docker" / "broker" / "mosquitto.conf"


def options() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in CONF.read_text().splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            out.setdefault(words[0], []).append(" ".join(words[1:]))
    return out


def test_the_plugin_is_loaded_and_replaces_use_identity_as_username() -> None:
    conf = options()
    assert conf["plugin"] == ["/mosquitto/plugins/fleet_identity.so"]
    # With it on, Mosquitto never calls the plugin's CONNECT check for certificate clients.
    assert "use_identity_as_username" not in conf and "use_subject_as_username" not in conf
    assert conf["require_certificate"] == ["true"] and conf["allow_anonymous"] == ["false"]


def test_client_ids_and_stamp_match_the_code() -> None:
    conf = options()
    assert conf[f"plugin_opt_clientids_{MONITOR_THING}"] == [
        f"{LAKE_CLIENT_ID} {LAKE_CLIENT_ID}-* {WATCH_CLIENT_PREFIX}*"]
    assert conf[f"plugin_opt_clientids_{BROKER_COMMON_NAME}"] == ["healthcheck"]
    assert conf["plugin_opt_stamp_property"] == [PUBLISHER_PROPERTY]
    compose = (CONF.parents[2] / "compose.yaml").read_text()
    assert "- healthcheck\n" in compose  # the compose healthcheck's client id (-i healthcheck)
