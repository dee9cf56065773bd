"""`make dashboard-live` in real headless Chromium while a fleet publishes through the real broker: the map draws
its Natural Earth base layer and one mark per station coloured by temperature, and the numbers (from a real
Prometheus scraping the lake writer and the broker exporter) change between two loads a few seconds apart.
Screenshots of both loads are kept in the test's tmp folder."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from awscrt import mqtt5

from fleetcore.identity import IdentityFiles
from fleetcore.mqtt import Callbacks, MqttOptions, Session, mtls_client
from pipeline.basemap import countries_path, read_polygons, shapefile_path
from pipeline.live.data import map_points
from pipeline.live.server import LiveDashboard
from pipeline.settings import PipelineSettings
from deploy.metrics.settings import PrometheusSettings
from tests.conftest import require
from tests.support.synthetic import message
from tests.support.broker import TlsBroker, free_port, provisioned_acl
from tests.support.certs import TestCA
from tests.support.chromium import chromium, run_chromium
from tests.support.observed_lake import ObservedLake, observed_lake
from tests.support.prometheus import Prometheus

STATIONS = {"ws-live-1": (51.5, -0.1, 12.0), "ws-live-2": (64.1, -21.9, -8.0), "ws-live-3": (-33.9, 151.2, 31.0)}


def test_natural_earth_base_layer_has_the_countries() -> None:
    rings = read_polygons(shapefile_path().read_bytes())
    assert len(rings) >= 250  # 177 countries, islands as extra rings
    assert all(abs(lon) <= 180 + 1e-9 and abs(lat) <= 90 for ring in rings for lon, lat in ring)
    assert countries_path().count("M") == len(rings)


def test_many_stations_are_binned_to_at_most_max_points() -> None:
    readings = [{"id": f"s{i}", "lat": -60 + (i % 120), "lon": -180 + (i * 7) % 360, "temp": float(i % 40)}
                for i in range(10_000)]
    out = map_points(readings, 2000)
    assert out["binned"] and out["stations"] == 10_000
    assert len(out["points"]) <= 2000
    assert sum(p["n"] for p in out["points"]) == 10_000
    few = map_points(readings[:5], 2000)
    assert not few["binned"] and [p["id"] for p in few["points"]] == ["s0", "s1", "s2", "s3", "s4"]


@pytest.fixture(scope="module")
def broker(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    workdir = tmp_path_factory.mktemp("live-broker")
    with TlsBroker(workdir, TestCA(workdir / "pki"), acl=provisioned_acl(list(STATIONS))) as b:
        yield b


def _publisher(broker: TlsBroker, tmp_path: Path, stop: threading.Event) -> None:
    clients = []
    for name in STATIONS:
        ident = broker.identity(name, tmp_path / name)
        client = mtls_client(MqttOptions(host=broker.host, port=broker.port, client_id=name, session=Session.CLEAN,
                                         identity=IdentityFiles(ident.certificate, ident.private_key, ident.ca)),
                             Callbacks())
        client.start()
        clients.append((name, client))
    seq = 0
    try:
        while not stop.is_set():
            for name, client in clients:
                lat, lon, temp = STATIONS[name]
                doc = {**message(name, seq, temp + (seq % 5)), "latitude": lat, "longitude": lon,
                       "weather_station": f"{name}-99999",
                       "sent_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
                client.publish(mqtt5.PublishPacket(payload=json.dumps(doc).encode(), qos=mqtt5.QoS.AT_LEAST_ONCE,
                                                   topic="sensor/weather"))
            seq += 1
            stop.wait(0.1)
    finally:
        for _, client in clients:
            client.stop()


def numbers(dom: str) -> dict[str, str]:
    return dict(re.findall(r'<dd id="([a-z0-9_]+)">([^<]*)</dd>', dom))


@pytest.mark.slow
def test_live_dashboard_in_headless_chromium(broker: TlsBroker, tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        require("REQUIRE_CHROMIUM", "no chromium on PATH (apt-get install -y chromium)")
    settings = PrometheusSettings(PROMETHEUS_SCRAPE_INTERVAL=1)
    stop_publishing = threading.Event()
    with observed_lake(broker, tmp_path, settings, stations=len(STATIONS), buffer_seconds=0.5) as observed:
        publisher = threading.Thread(target=_publisher, args=(broker, tmp_path, stop_publishing), daemon=True)
        publisher.start()
        try:
            _check_the_page(binary, observed, tmp_path)
        finally:
            stop_publishing.set()
            publisher.join(timeout=10)


def _check_the_page(binary: str, observed: ObservedLake, tmp_path: Path) -> None:
    dashboard = None
    try:
        with Prometheus(observed.config_dir, free_port()) as prom:
            prom.wait_for("sum(rate(weather_fleet_lake_messages_stored_total[1m]))", lambda r: r and r[0][1] > 0)
            dashboard = LiveDashboard(PipelineSettings(LAKE_DIR=observed.lake_dir, PROMETHEUS_URL=prom.url), 0)
            url = f"http://127.0.0.1:{dashboard.port}/"
            shots, doms = [], []
            for i in (1, 2):
                doms.append(run_chromium(binary, url, tmp_path / f"profile-{i}", "--dump-dom"))
                shot = tmp_path / f"live-{i}.png"
                run_chromium(binary, url, tmp_path / f"profile-shot-{i}", f"--screenshot={shot}",
                             "--window-size=1280,720")
                shots.append(shot.read_bytes())
                if i == 1:
                    time.sleep(6)
            first, second = numbers(doms[0]), numbers(doms[1])
            base = re.search(r'<path id="base" d="([^"]*)"', doms[0])
            assert base and len(base.group(1)) > 100_000  # every Natural Earth outline
            circles = re.findall(r'<circle cx="([-\d.]+)" cy="([-\d.]+)"[^>]*fill="(hsl[^"]+)"', doms[1])
            assert sorted((float(x), float(y)) for x, y, _ in circles) == sorted(
                (round(lon + 180, 2), round(90 - lat, 2)) for lat, lon, _ in STATIONS.values())
            assert len({fill for *_, fill in circles}) == 3  # coloured by three different temperatures
            assert first["map_stations"] == second["map_stations"] == "3"
            stored = [int(n["lake_stored_total"].replace(",", "")) for n in (first, second)]
            assert 0 < stored[0] < stored[1], (first, second)
            assert second["broker_clients"] not in ("–", "0")
            assert shots[0] != shots[1]
    finally:
        if dashboard is not None:
            dashboard.close()


def test_the_live_page_shows_the_last_audit_once_there_is_one(tmp_path: Path) -> None:
    """No audit yet: no section. After `make audit` (its report in LAKE_DIR/_audit/latest.json) the next refresh
    shows the verdict and the totals, escaped; a newer report replaces it."""
    from pipeline.audit_record import audit_record_path

    binary = chromium()
    if binary is None:
        require("REQUIRE_CHROMIUM", "no chromium on PATH (apt-get install -y chromium)")
    lake = tmp_path / "lake"
    lake.mkdir()
    dashboard = LiveDashboard(PipelineSettings(LAKE_DIR=lake, PROMETHEUS_URL=f"http://127.0.0.1:{free_port()}"), 0)
    url = f"http://127.0.0.1:{dashboard.port}/"
    record = audit_record_path(lake)

    def report(failed: bool, missing: int, thing: str) -> None:
        record.parent.mkdir(parents=True, exist_ok=True)
        stations = [{"thing": thing, "missing": missing}]
        record.write_text(json.dumps({"failed": failed, "generated_at": "2026-12-07T19:00:00+00:00",
                                      "stations": stations, "fleet_faults": [],
                                      "total": {"expected": 100, "stored": 100 - missing, "missing": missing,
                                                "faults": {"duplicate": {"injected": 5, "stored": 0,
                                                                         "rejected": 0}}}}))

    try:
        before = run_chromium(binary, url, tmp_path / "p0", "--dump-dom")
        assert 'id="audit-slot"></div>' in before and 'id="audit"' not in before
        report(True, 16, "ws-<b>1</b>")
        time.sleep(3)  # the server caches each answer for a refresh period
        failed = run_chromium(binary, url, tmp_path / "p1", "--dump-dom")
        section = re.search(r'<section id="audit" class="audit failed" data-status="failed" data-missing="16">'
                            r'(.*?)</section>', failed, re.S)
        assert section, failed[-3000:]
        assert "FAILED: acknowledged messages are missing" in section.group(1)
        assert "<li>ws-&lt;b&gt;1&lt;/b&gt;: 16</li>" in section.group(1), "a station name is text, not markup"
        assert "<th>duplicate</th><td>5</td><td>0</td><td>0</td>" in section.group(1)
        time.sleep(3)  # the server caches each answer for a refresh period
        report(False, 0, "ws-1")
        ok = run_chromium(binary, url, tmp_path / "p2", "--dump-dom")
        assert '<section id="audit" class="audit ok" data-status="ok" data-missing="0">' in ok
    finally:
        dashboard.close()
