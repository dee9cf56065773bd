"""deploy.broker_config: the broker's mosquitto.conf with BROKER_MAX_PAYLOAD_BYTES / BROKER_MAX_PUBLISHES_PER_SECOND
(issue 23 §8: AWS IoT Core's message limits, on by default and configurable). The real broker obeys the file:
tests/fleet/test_broker_aws_limits.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.broker_config import TEMPLATE, broker_config_path, render_broker_config, write_broker_config
from deploy.errors import ConfigError
from deploy.settings import BrokerLimits
from fleetcore.aws_limits import IOT_MAX_PAYLOAD_BYTES, IOT_PUBLISHES_PER_SECOND_PER_CONNECTION


def options(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if words and not words[0].startswith("#"):
            out.setdefault(words[0], []).append(" ".join(words[1:]))
    return out


def test_the_defaults_are_aws_iot_cores_and_the_shipped_template_holds_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROKER_MAX_PAYLOAD_BYTES", raising=False)
    monkeypatch.delenv("BROKER_MAX_PUBLISHES_PER_SECOND", raising=False)
    limits = BrokerLimits(_env_file=None)
    assert (limits.broker_max_payload_bytes, limits.broker_max_publishes_per_second) == (131072, 100)
    assert (IOT_MAX_PAYLOAD_BYTES, IOT_PUBLISHES_PER_SECOND_PER_CONNECTION) == (131072, 100)
    shipped = options(TEMPLATE.read_text())
    assert shipped["max_packet_size"] == ["131072"] and shipped["plugin_opt_max_publishes_per_second"] == ["100"]
    assert render_broker_config(131072, 100) == TEMPLATE.read_text()


def test_the_environment_sets_each_limit_and_0_lifts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_MAX_PAYLOAD_BYTES", "0")
    monkeypatch.setenv("BROKER_MAX_PUBLISHES_PER_SECOND", "20")
    limits = BrokerLimits(_env_file=None)
    text = render_broker_config(limits.broker_max_payload_bytes, limits.broker_max_publishes_per_second)
    conf = options(text)
    assert "max_packet_size" not in conf  # Mosquitto's "no limit" is no line at all
    assert conf["plugin_opt_max_publishes_per_second"] == ["20"]
    # every other line is the template's
    changed = [(a, b) for a, b in zip(TEMPLATE.read_text().splitlines(), text.splitlines(), strict=True) if a != b]
    assert changed == [("max_packet_size 131072", "# max_packet_size: off (BROKER_MAX_PAYLOAD_BYTES=0)"),
                       ("plugin_opt_max_publishes_per_second 100", "plugin_opt_max_publishes_per_second 20")]
    assert options(render_broker_config(4096, 0))["max_packet_size"] == ["4096"]


def test_a_negative_limit_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.settings import load

    monkeypatch.setenv("BROKER_MAX_PUBLISHES_PER_SECOND", "-1")
    with pytest.raises(ConfigError, match="BROKER_MAX_PUBLISHES_PER_SECOND"):
        load(_env_file=None)


def test_a_template_without_exactly_one_line_per_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="max_packet_size on exactly one line, not 0"):
        render_broker_config(1, 1, template="plugin_opt_max_publishes_per_second 100\n")
    twice = "max_packet_size 1\nplugin_opt_max_publishes_per_second 100\nplugin_opt_max_publishes_per_second 5\n"
    with pytest.raises(ConfigError, match="plugin_opt_max_publishes_per_second on exactly one line, not 2"):
        render_broker_config(1, 1, template=twice)


def test_write_reports_a_change_only_when_the_limits_change(tmp_path: Path) -> None:
    assert write_broker_config(tmp_path, BrokerLimits(_env_file=None, BROKER_MAX_PUBLISHES_PER_SECOND=7)) is True
    assert write_broker_config(tmp_path, BrokerLimits(_env_file=None, BROKER_MAX_PUBLISHES_PER_SECOND=7)) is False
    assert "plugin_opt_max_publishes_per_second 7" in broker_config_path(tmp_path).read_text().splitlines()
    assert (broker_config_path(tmp_path).stat().st_mode & 0o777) == 0o644  # root in the container reads it
    assert write_broker_config(tmp_path, BrokerLimits(_env_file=None, BROKER_MAX_PUBLISHES_PER_SECOND=8)) is True


def test_deploy_write_writes_the_broker_config_from_the_environment_for_a_local_fleet(tmp_path: Path) -> None:
    """`make register BROKER_MAX_PUBLISHES_PER_SECOND=20` (`python -m deploy write`): the fleet folder's
    mosquitto.conf, which compose mounts, carries it. (An AWS fleet gets none: tests/deploy/test_deployment.py.)"""
    import os
    import subprocess
    import sys

    from tests.support.fleets import register_fleet
    from tests.support.standins import stand_in_lab_files

    isd = stand_in_lab_files(tmp_path / "isd")
    fleet = tmp_path / "fleet"
    register_fleet(fleet, isd, 2)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BROKER_MAX_")},
           "BROKER_MAX_PUBLISHES_PER_SECOND": "20", "BROKER_MAX_PAYLOAD_BYTES": "0"}
    done = subprocess.run([sys.executable, "-m", "deploy", "write", "--fleet-dir", str(fleet), "--data-dir", str(isd)],
                          cwd=TEMPLATE.parents[2], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"wrote {broker_config_path(fleet)}" in done.stdout.splitlines()
    assert broker_config_path(fleet).read_text() == render_broker_config(0, 20)


def test_up_recreates_a_running_broker_only_when_its_config_differs() -> None:
    from deploy.broker import running_config_differs

    def docker(live: str, running: str = "true"):
        def run(*args: str):
            import subprocess
            out = running if args[0] == "inspect" else live
            return subprocess.CompletedProcess(args, 0, out, "")
        return run

    text = render_broker_config(131072, 100)
    assert running_config_differs("c1", text, docker(text)) is False
    assert running_config_differs("c1", render_broker_config(131072, 20), docker(text)) is True
    assert running_config_differs("c1", text, docker("other", running="false")) is False  # stopped: started anew
    assert running_config_differs("", text, docker("other")) is False  # no broker yet
