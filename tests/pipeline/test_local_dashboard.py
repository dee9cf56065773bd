"""The dashboard: self-contained HTML whose charts really draw, checked in headless Chromium's DOM."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.dashboard import CHARTS, collect, render, write_dashboard
from pipeline.lake import LakeWriter
from pipeline.settings import PipelineSettings
from tests.conftest import require
from tests.support.chromium import chromium
from tests.support.synthetic import message

STATIONS = {"alpha": (46.15, -89.21), "bravo": (48.8, 2.35), "charlie": (-33.9, 151.2)}
CONDITIONS = ("Snow, slight", "Mist", "Rain, moderate", "Drizzle")
CLOUDS = ("Stratus", "Cumulus", "Cirrus")


def build_lake(lake_dir: Path) -> list[dict]:
    messages = []
    for index, (thing, (lat, lon)) in enumerate(STATIONS.items()):
        for seq in range(30 + 5 * index):
            doc = message(thing, seq, None if seq == 3 else -8.0 + (seq % 13) + index,
                          conditions=CONDITIONS[: seq % 3], clouds=CLOUDS[: (seq + index) % 4])
            doc["latitude"], doc["longitude"] = lat, lon
            messages.append(doc)
    writer = LakeWriter(lake_dir, buffer_bytes=20_000)
    for doc in messages:
        writer.add(json.dumps(doc).encode(), publisher=doc["thing_name"])
    writer.close()
    return messages


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineSettings, list[dict]]:
    lake_dir = tmp_path_factory.mktemp("dash") / "lake"
    messages = build_lake(lake_dir)
    return PipelineSettings(LAKE_DIR=lake_dir), messages


def flat_counts(messages: list[dict], what: str) -> dict[str, int]:
    """Rows per label of the lab's flattened table (CROSS JOIN UNNEST of both arrays), computed here."""
    counts: dict[str, int] = {}
    for m in messages:
        for sky in m["sky_cover_condition"]:
            for cond in m["weather_condition"]:
                label = sky["cloud_type"] if what == "clouds" else cond["present_weather_condition"]
                counts[label] = counts.get(label, 0) + 1
    return counts


def test_collect_agrees_with_the_messages(lake) -> None:
    settings, messages = lake
    data = collect(settings)
    for thing in STATIONS:
        station = f"{thing}-99999"
        expected = [m["air_temperature"]["value"] for m in messages
                    if m["weather_station"] == station and m["air_temperature"]["value"] is not None]
        assert [p[1] for p in data["temperature"][station]] == expected  # messages are hourly, in order
    assert {c["label"]: c["n"] for c in data["conditions"]} == flat_counts(messages, "conditions")
    assert {c["label"]: c["n"] for c in data["clouds"]} == flat_counts(messages, "clouds")
    assert {s["weather_station"]: s["messages"] for s in data["stations"]} == {
        f"{t}-99999": 30 + 5 * i for i, t in enumerate(STATIONS)}
    latencies = [d["latency_p50_ms"] for d in data["delivery"]]
    assert all(v is not None and v > -5_000 for v in latencies), "arrival times come from the lake ledger"


def test_html_is_self_contained(lake, tmp_path: Path) -> None:
    settings, _ = lake
    path = write_dashboard(settings, tmp_path / "dashboard.html")
    text = path.read_text()
    assert "<link" not in text and not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert re.findall(r"https?://[^\s\"'<>]+", text) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only
    assert "default-src 'none'" in text


def test_render_escapes_script_breaking_data() -> None:
    page = render({"stations": [{"weather_station": "</script><script>alert(1)</script>", "messages": 1,
                                 "latitude": 0, "longitude": 0}], "lake": "x", "generated_at": "t"})
    assert page.count("</script>") == 2  # the data block's and the code block's own


class Figures(HTMLParser):
    """Collects the attributes of every chart figure and counts drawn SVG marks inside each."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, dict[str, str]] = {}
        self.marks: dict[str, dict[str, int]] = {}
        self.body: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        elif tag == "figure" and "data-chart" in a:
            self._current = a["data-chart"]
            self.figures[self._current] = a
            self.marks[self._current] = {}
        elif self._current and tag in ("path", "circle", "rect"):
            counts = self.marks[self._current]
            counts[tag] = counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._current = None


def test_charts_draw_in_headless_chromium(lake, tmp_path: Path) -> None:
    binary = chromium()
    if binary is None:
        require("REQUIRE_CHROMIUM", "no chromium on PATH (apt-get install -y chromium)")
    settings, messages = lake
    path = write_dashboard(settings, tmp_path / "dashboard.html")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=5000", "--dump-dom", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = Figures()
    dom.feed(proc.stdout)
    assert dom.body.get("data-charts-drawn") == str(len(CHARTS)), proc.stdout[:500]
    statuses = {k: (f.get("data-status"), f.get("data-error")) for k, f in dom.figures.items()}
    assert all(s == ("drawn", None) for s in statuses.values()), statuses
    drawn = {k: int(f["data-drawn"]) for k, f in dom.figures.items()}
    stations = len(STATIONS)
    assert drawn["temperature"] == dom.marks["temperature"]["path"] == stations
    assert drawn["map"] == dom.marks["map"]["circle"] == stations
    assert drawn["conditions"] == len(flat_counts(messages, "conditions"))
    assert drawn["clouds"] == len(flat_counts(messages, "clouds"))
    assert drawn["rate"] == dom.marks["rate"]["path"] == stations
    assert drawn["latency"] == 2 * stations
    # the temperature lines carry every reading of their station
    figure = proc.stdout.split('id="chart-temperature"', 1)[1].split("</figure>", 1)[0]
    points = re.findall(r'<path[^>]*data-station="([^"]+)"[^>]*data-points="(\d+)"', figure)
    readings = {}
    for m in messages:
        if m["air_temperature"]["value"] is not None:
            readings[m["weather_station"]] = readings.get(m["weather_station"], 0) + 1
    assert {s: int(n) for s, n in points} == readings


def test_station_names_come_from_the_fleets_stations_json(lake, tmp_path: Path) -> None:
    settings, messages = lake
    names_file = tmp_path / "stations.json"
    station = messages[0]["weather_station"]
    names_file.write_text(json.dumps({"version": 1, "stations": {station: {"name": "DYCE", "country": "UK",
                                                                           "icao": "EGPD"}}}))
    with_names = settings.model_copy(update={"station_names_file": names_file})
    data = collect(with_names)
    assert data["station_names"] == {station: "DYCE"}
    assert '"station_names":{"' + station + '":"DYCE"}' in render(data)
    assert collect(settings.model_copy(update={"station_names_file": tmp_path / "none.json"}))["station_names"] == {}
    names_file.write_text("[not the shape]")
    assert collect(with_names)["station_names"] == {}
