"""Prometheus configuration generated from the fleet (deploy/metrics/config.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.errors import DeployError
from deploy.metrics.config import (Fleet, compose_jobs, read_fleet, render_prometheus_yml, render_rules_yml,
                                         write_config)
from deploy.metrics.settings import PrometheusSettings


def load_yml(text: str) -> dict:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return json.loads(body)  # JSON is YAML: what Prometheus reads


def compose_env(folder: Path, size: int, groups: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.env").write_text(f"# generated\nFLEET_DIR={folder}\nFLEET_SIZE={size}\nFLEET_GROUPS={groups}\n")
    return folder


def test_ten_groups_are_ten_targets(tmp_path: Path) -> None:
    fleet = read_fleet(compose_env(tmp_path, 10000, 10))
    assert fleet == Fleet([f"group-{i}" for i in range(1, 11)], 10000)
    doc = load_yml(render_prometheus_yml(compose_jobs(fleet), PrometheusSettings()))
    jobs = {c["job_name"]: c["static_configs"][0]["targets"] for c in doc["scrape_configs"]}
    assert jobs == {"stations": [f"group-{i}:9101" for i in range(1, 11)], "lake": ["lake:9102"],
                    "broker": ["broker-metrics:9103"]}


def test_one_container_per_station(tmp_path: Path) -> None:
    fleet = read_fleet(compose_env(tmp_path, 3, 0))
    assert compose_jobs(fleet)["stations"] == ["station-1:9101", "station-2:9101", "station-3:9101"]


def test_swarm_uses_dns_service_discovery(tmp_path: Path) -> None:
    fleet = read_fleet(compose_env(tmp_path, 2000, 2))
    doc = load_yml(render_prometheus_yml(compose_jobs(fleet), PrometheusSettings(), swarm=True))
    stations = next(c for c in doc["scrape_configs"] if c["job_name"] == "stations")
    assert stations["dns_sd_configs"] == [{"names": ["tasks.group-1", "tasks.group-2"], "type": "A", "port": 9101}]
    assert "static_configs" not in stations


def test_rules_hold_the_registered_count_and_thresholds() -> None:
    doc = load_yml(render_rules_yml(250, PrometheusSettings(LAKE_LAG_ALERT_SECONDS=120, ACK_RATIO_ALERT=0.95,
                                                             PROMETHEUS_ALERT_FOR=30)))
    rules = {r.get("record") or r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert rules["fleet:registered_stations"]["expr"] == "vector(250)"
    assert rules["LakeLagHigh"]["expr"] == "fleet:lake_lag_seconds > 120"
    assert rules["FleetAckRatioLow"]["expr"] == "fleet:acked_ratio:rate5m < 0.95"
    assert {r["for"] for g in doc["groups"] for r in g["rules"] if "alert" in r} == {"30s"}
    assert set(rules) >= {"FleetTargetDown", "FleetGroupSilent", "BrokerClientsBelowStations"}


def test_unregistered_fleet_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="make register"):
        read_fleet(tmp_path)


def test_write_config_is_readable_by_another_user(tmp_path: Path) -> None:
    folder = write_config(compose_env(tmp_path, 5, 0), PrometheusSettings())
    assert sorted(p.name for p in folder.iterdir()) == ["prometheus.yml", "rules.yml"]
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in folder.iterdir())


def test_a_fleet_without_metrics_has_no_station_targets(tmp_path: Path) -> None:
    """FLEET_METRICS=false: `deploy write` sets STATIONS_METRICS_PORT=0, the containers serve nothing, and
    Prometheus is not told to scrape them (it would report every group down)."""
    folder = compose_env(tmp_path, 2000, 2)
    with (folder / "compose.env").open("a") as f:
        f.write("STATIONS_METRICS_PORT=0\n")
    fleet = read_fleet(folder)
    assert fleet == Fleet([], 2000)
    assert compose_jobs(fleet)["stations"] == []
