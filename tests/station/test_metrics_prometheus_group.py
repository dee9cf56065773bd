"""A group's metrics, scraped by a real Prometheus with the lake writer's: PromQL returns the totals the group
published (and the faults it injected), and an alert fires when the group is stopped. Real broker, real group
process (`station run` with SHARD_FILE, METRICS_PORT and FAULTS set)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleetcore.shard import Shard, ShardThing
from deploy.metrics.config import render_prometheus_yml
from deploy.metrics.settings import PrometheusSettings
from tests.support.broker import TlsBroker, free_port
from tests.support.certs import TestCA
from tests.support.hosting import HostedStation
from tests.support.observed_lake import observed_lake
from tests.support.prometheus import Prometheus
from tests.support.station import StationProcess

pytestmark = [pytest.mark.docker, pytest.mark.slow]

THINGS = ["ws-prom-1", "ws-prom-2", "ws-prom-3"]
BEFORE_OUTAGE = 20
# Each station publishes 20 messages, then its connection is closed for 120 s: the totals hold still meanwhile.
SCENARIO = "{seed: 1, rules: [{kind: disconnect, seconds: 120, when: {after: 19, until: 20}}]}"


@pytest.fixture(scope="module")
def broker(docker_engine: None, test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    with TlsBroker(tmp_path_factory.mktemp("prom-group-broker"), test_ca) as b:
        yield b


def start_group(broker: TlsBroker, small_file: Path, tmp_path: Path, port: int) -> StationProcess:
    scenario = tmp_path / "faults.yaml"
    scenario.write_text(SCENARIO)
    st = HostedStation("group", broker, THINGS[0], small_file, tmp_path)
    env = st.environment(INTERVAL="0.02", FAULTS=str(scenario), METRICS_PORT=str(port))
    for thing in THINGS[1:]:
        broker.ca.issue_client(thing, tmp_path / "ids" / thing)
    Path(env["SHARD_FILE"]).write_text(Shard(4, tuple(ShardThing(t, small_file.name, 0) for t in THINGS)).to_json())
    return StationProcess(env)


def test_prometheus_scrapes_a_group_and_the_lake_and_alerts_when_the_group_stops(broker: TlsBroker, small_file: Path,
                                                                                 tmp_path: Path) -> None:
    settings = PrometheusSettings(PROMETHEUS_SCRAPE_INTERVAL=1, PROMETHEUS_ALERT_FOR=2)
    port = free_port()
    with observed_lake(broker, tmp_path, settings, stations=len(THINGS)) as observed:
        jobs = {"stations": [f"127.0.0.1:{port}"], "lake": [f"127.0.0.1:{observed.lake_http.port}"],
                "broker": [f"127.0.0.1:{observed.broker_http.port}"]}
        (observed.config_dir / "prometheus.yml").write_text(render_prometheus_yml(jobs, settings))
        group = start_group(broker, small_file, tmp_path, port)
        try:
            with Prometheus(observed.config_dir, free_port()) as prom:
                total = len(THINGS) * BEFORE_OUTAGE
                acked = prom.wait_for('sum(weather_fleet_messages_acked_total{job="stations"})',
                                      lambda r: r and r[0][1] >= total, timeout=60)
                assert acked[0][1] == total, group.output
                published = prom.query('weather_fleet_messages_published_total{job="stations"}')
                assert [(m["group"], v) for m, v in published] == [("group-4", float(total))]
                assert prom.query("sum(weather_fleet_messages_in_flight)")[0][1] == 0
                assert prom.query('weather_fleet_faults_injected_total{kind="disconnect"}')[0][1] == len(THINGS)
                assert prom.query('weather_fleet_connects_total')[0][1] == len(THINGS)
                assert prom.query('weather_fleet_stations{state="publishing"}')[0][1] == len(THINGS)
                stored = prom.wait_for("sum(weather_fleet_lake_messages_stored_total)",
                                       lambda r: r and r[0][1] >= total, timeout=30)
                assert stored[0][1] == total
                assert prom.query('up{job="stations"}')[0][1] == 1
                assert not [a for a in prom.firing_alerts() if a["labels"]["alertname"] == "FleetTargetDown"]
                group.signal(signal.SIGTERM)
                assert group.wait(30) == 0, group.output
                down = prom.wait_for('ALERTS{alertname="FleetTargetDown", alertstate="firing"}', lambda r: bool(r),
                                     timeout=40)
                assert [m["job"] for m, _ in down] == ["stations"]
        finally:
            if group.proc.poll() is None:
                group.proc.kill()
