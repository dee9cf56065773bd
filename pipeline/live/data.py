"""What the live dashboard shows: the latest reading per station from the newest lake files, binned when there are
more stations than the map draws, and the fleet's numbers from Prometheus' HTTP API.

Light by construction: only the newest `RECENT_FILES` lake files are read (a station that has not published in them
is not on the map), at most `max_points` points leave the server, and each answer is cached for `ttl` seconds
whatever the number of open pages.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from pipeline.lake import lake_files

log = logging.getLogger(__name__)

RECENT_FILES = 200
# The numbers on the page: raw PromQL (no recording rule needed), so any Prometheus scraping the fleet works.
PROMQL = {
    "published_per_s": "sum(rate(weather_fleet_messages_published_total[1m]))",
    "acked_ratio": "sum(rate(weather_fleet_messages_acked_total[5m])) / sum(rate(weather_fleet_messages_published_total[5m]))",
    "stations_connected": "sum(weather_fleet_stations{state=\"publishing\"})",
    "broker_in_per_s": "sum(rate(weather_fleet_broker_publish_received_total[1m]))",
    "broker_clients": "sum(weather_fleet_broker_clients_connected)",
    "lake_stored_per_s": "sum(rate(weather_fleet_lake_messages_stored_total[1m]))",
    "lake_stored_total": "sum(weather_fleet_lake_messages_stored_total)",
    "e2e_p50_s": "histogram_quantile(0.5, sum by (le) (rate(weather_fleet_lake_e2e_latency_seconds_bucket[5m])))",
    "e2e_p95_s": "histogram_quantile(0.95, sum by (le) (rate(weather_fleet_lake_e2e_latency_seconds_bucket[5m])))",
    "lake_lag_s": "max(weather_fleet_lake_buffer_age_seconds)",
}

STATIONS_SQL = """
SELECT weather_station AS id, arg_max(latitude, sent_at) AS lat, arg_max(longitude, sent_at) AS lon,
       arg_max(air_temperature.value, sent_at) AS temp, max(sent_at) AS last
FROM read_json_auto(?, format = 'newline_delimited', union_by_name = true)
WHERE latitude IS NOT NULL AND longitude IS NOT NULL
GROUP BY weather_station
"""


class Cached:
    """`get()` returns `compute()`'s value, recomputed at most every `ttl` seconds."""

    def __init__(self, compute: Callable[[], Any], ttl: float) -> None:
        self._compute, self._ttl = compute, ttl
        self._value: Any = None
        self._at = -math.inf
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._value, self._at = self._compute(), time.monotonic()
            return self._value


def latest_readings(lake_root: Path, recent_files: int = RECENT_FILES) -> list[dict]:
    """One row per station in the newest lake files: id, lat, lon, latest air temperature (°C), last sent_at."""
    files = lake_files(lake_root)[-recent_files:]
    if not files:
        return []
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(STATIONS_SQL, [[str(f) for f in files]]).fetchall()
    except duckdb.Error as exc:  # e.g. files without the expected fields: no map, the numbers still show
        log.warning("live dashboard: cannot read the newest lake files: %s", exc)
        return []
    finally:
        con.close()
    return [{"id": r[0], "lat": r[1], "lon": r[2], "temp": r[3], "last": r[4]} for r in rows]


def map_points(readings: list[dict], max_points: int) -> dict:
    """At most `max_points` points: the stations themselves, or grid cells (mean temperature, station count) of
    the smallest whole-degree size that fits."""
    if len(readings) <= max_points:
        return {"binned": False, "cell_degrees": 0, "stations": len(readings),
                "points": [{"lat": r["lat"], "lon": r["lon"], "temp": r["temp"], "n": 1, "id": r["id"]}
                           for r in readings]}
    size = 1
    while True:
        cells: dict[tuple[int, int], list[dict]] = {}
        for r in readings:
            cells.setdefault((math.floor(r["lat"] / size), math.floor(r["lon"] / size)), []).append(r)
        if len(cells) <= max_points:
            break
        size *= 2
    points = []
    for (row, col), members in cells.items():
        temps = [m["temp"] for m in members if m["temp"] is not None]
        points.append({"lat": (row + 0.5) * size, "lon": (col + 0.5) * size, "n": len(members),
                       "temp": round(sum(temps) / len(temps), 1) if temps else None})
    return {"binned": True, "cell_degrees": size, "stations": len(readings), "points": points}


def prometheus_numbers(base_url: str, timeout: float = 3.0) -> dict:
    """Each of `PROMQL`'s numbers (None when Prometheus has no value), the firing alerts, and an error if any."""
    out: dict[str, Any] = {"values": {}, "alerts": [], "error": None}
    try:
        for name, promql in PROMQL.items():
            doc = _get(f"{base_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}", timeout)
            result = doc["data"]["result"]
            value = float(result[0]["value"][1]) if result else None
            out["values"][name] = None if value is None or math.isnan(value) or math.isinf(value) else value
        alerts = _get(f"{base_url}/api/v1/alerts", timeout)["data"]["alerts"]
        out["alerts"] = sorted({a["labels"].get("alertname", "?") for a in alerts if a.get("state") == "firing"})
    except (OSError, ValueError, KeyError) as exc:
        out["error"] = f"Prometheus at {base_url} (PROMETHEUS_URL): {exc}"
    return out


def _get(url: str, timeout: float) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)
