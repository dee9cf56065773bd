"""The lab's QuickSight step, locally: one self-contained HTML file (inline data, CSS, JS and SVG; no server,
no CDN, nothing fetched).

Data comes from DuckDB over the lake (`pipeline.query`): the flattened table of the lab (rebuilt here) for the
distributions of weather conditions and cloud types, and the raw table for what the flat one distorts
(CROSS JOIN UNNEST drops readings without cloud layers or present weather and repeats the others): temperature
over time, the station map, message rate and end-to-end latency (`sent_at` to arrival in the lake). When
`pipeline audit` ran, its summary (`LAKE_DIR/_audit/latest.json`) is shown above the charts
(`pipeline.dashboard_audit`).

Every chart is drawn by the inline script into an `<svg>`; when done it sets `data-status` ("drawn" or
"empty") and `data-drawn` (the number of marks drawn) on its `<figure>`, and the `<body>` gets
`data-charts-drawn`, so a headless browser's DOM tells whether the charts really drew.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from pipeline.audit_record import read_audit_record
from pipeline.dashboard_audit import AUDIT_CSS, audit_html, audit_summary
from pipeline.query import open_warehouse, run_named
from pipeline.settings import PipelineSettings

CHARTS = (
    ("temperature", "Air temperature over time", "°C per station, every distinct reading"),
    ("map", "Stations", "latitude / longitude; circle area ∝ messages"),
    ("conditions", "Weather conditions", "rows of the flattened table per present-weather condition"),
    ("clouds", "Cloud types", "rows of the flattened table per cloud type"),
    ("rate", "Message rate", "messages per minute of publishing (sent_at), per station"),
    ("latency", "End-to-end latency", "sent_at → arrival in the lake, ms: median and 95th percentile"),
)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.timestamp() * 1000)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _records(result) -> list[dict]:
    return [{c: _json_value(v) for c, v in zip(result.columns, row)} for row in result.rows]


def station_names(path: Path | None) -> dict[str, str]:
    """weather_station -> name from the fleet's stations.json (a plain JSON file written at registration:
    {"stations": {"USAF-WBAN": {"name": ...}}}); empty when there is none or it is not that shape."""
    if path is None or not Path(path).is_file():
        return {}
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    stations = doc.get("stations") if isinstance(doc, dict) else None
    if not isinstance(stations, dict):
        return {}
    return {str(k): str(v["name"]) for k, v in stations.items() if isinstance(v, dict) and v.get("name")}


def collect(settings: PipelineSettings) -> dict:
    """Everything the dashboard shows, as JSON-ready data (also handy for tests)."""
    con = open_warehouse(settings)
    try:
        run_named(con, settings, "flatten")
        series: dict[str, list[list[float]]] = {}
        for row in run_named(con, settings, "temperature_series").rows:
            station, observed_at, temperature = row
            series.setdefault(station, []).append([_json_value(observed_at), float(temperature)])
        rate: dict[str, list[list[float]]] = {}
        for station, minute, messages in run_named(con, settings, "message_rate").rows:
            rate.setdefault(station, []).append([_json_value(minute), int(messages)])
        return {
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "lake": str(settings.lake_root),
            "temperature": series,
            "stations": _records(run_named(con, settings, "stations")),
            "conditions": _records(run_named(con, settings, "condition_counts")),
            "clouds": _records(run_named(con, settings, "cloud_counts")),
            "rate": rate,
            "delivery": _records(run_named(con, settings, "delivery")),
            "station_names": station_names(settings.station_names_file),
            "audit": audit_summary(read_audit_record(settings.lake_dir)),
        }
    finally:
        con.close()


def render(data: dict) -> str:
    """The HTML document for `data` (see `collect`)."""
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    figures = "\n".join(
        f'<figure class="chart" id="chart-{key}" data-chart="{key}" data-status="pending" data-drawn="0">'
        f"<figcaption><strong>{html.escape(title)}</strong> <span>{html.escape(note)}</span></figcaption>"
        f'<svg viewBox="0 0 640 320" role="img" aria-label="{html.escape(title)}"></svg></figure>'
        for key, title, note in CHARTS
    )
    stations = len(data.get("stations", []))
    messages = sum(int(s.get("messages") or 0) for s in data.get("stations", []))
    return (_TEMPLATE
            .replace("@@FIGURES@@", figures)
            .replace("@@SUMMARY@@", html.escape(f"{stations} station(s), {messages} message(s) in {data.get('lake')}; "
                                                f"generated {data.get('generated_at')}"))
            .replace("@@AUDIT_CSS@@", AUDIT_CSS)
            .replace("@@AUDIT@@", audit_html(data.get("audit")))
            .replace("@@DATA@@", payload)
            .replace("@@SCRIPT@@", _SCRIPT))


def write_dashboard(settings: PipelineSettings, output: Path | None = None) -> Path:
    """Collect, render and write the dashboard atomically; returns its path."""
    path = Path(output or settings.dashboard_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(render(collect(settings)), encoding="utf-8")
    temp.replace(path)
    return path


_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>weather-fleet dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;background:#fafafa}
h1{font-size:1.4rem;margin:0 0 .2rem}
p.summary{color:#555;margin:0 0 1rem}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:1rem}
figure.chart{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem}
figcaption span{color:#666;font-size:.85rem}
svg{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:#333}
svg .axis{stroke:#999;stroke-width:1}
svg .grid{stroke:#eee;stroke-width:1}
svg .empty{font-size:16px;fill:#999}
@@AUDIT_CSS@@
</style>
</head>
<body data-charts-drawn="0">
<h1>weather-fleet: the lab's dashboard, locally</h1>
<p class="summary">@@SUMMARY@@</p>
@@AUDIT@@
<main>
@@FIGURES@@
</main>
<script type="application/json" id="dashboard-data">@@DATA@@</script>
<script>
@@SCRIPT@@
</script>
</body>
</html>
"""

_SCRIPT = r"""
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const W = 640, H = 320, M = {l: 70, r: 16, t: 14, b: 36};
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                   "#bcbd22", "#7f7f7f"];
  const colors = {};
  (DATA.stations || []).forEach((s, i) => { colors[s.weather_station] = PALETTE[i % PALETTE.length]; });
  const color = (station) => colors[station] || "#555";
  // Station names from the fleet's stations.json (STATION_NAMES_FILE), when registration wrote it.
  const NAMES = DATA.station_names || {};
  const label = (station) => NAMES[station] ? station + " " + NAMES[station] : station;

  function el(parent, name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }
  function scale(d0, d1, r0, r1) {
    const span = (d1 - d0) || 1;
    return (v) => r0 + (v - d0) / span * (r1 - r0);
  }
  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (lo === hi) { lo -= 1; hi += 1; }
    return [lo, hi];
  }
  function ticks(lo, hi, n) {
    const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / n)));
    const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= n) || step * 10;
    const out = [];
    for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-9; v += nice) out.push(+v.toFixed(10));
    return out;
  }
  function fmtTime(ms, span) {
    const d = new Date(ms).toISOString();
    return span > 3 * 86400e3 ? d.slice(0, 10) : d.slice(5, 16).replace("T", " ");
  }
  function axes(svg, x, y, xs, ys, xfmt, yfmt) {
    for (const v of ys) {
      el(svg, "line", {class: "grid", x1: M.l, x2: W - M.r, y1: y(v), y2: y(v)});
      el(svg, "text", {x: M.l - 6, y: y(v) + 4, "text-anchor": "end"}, yfmt(v));
    }
    for (const v of xs) el(svg, "text", {x: x(v), y: H - M.b + 16, "text-anchor": "middle"}, xfmt(v));
    el(svg, "line", {class: "axis", x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b});
    el(svg, "line", {class: "axis", x1: M.l, x2: M.l, y1: M.t, y2: H - M.b});
  }
  function legend(svg, names) {
    names.forEach((name, i) => {
      el(svg, "rect", {x: M.l + 8 + (i % 3) * 190, y: M.t + 2 + Math.floor(i / 3) * 14, width: 10, height: 10,
                       fill: color(name)});
      el(svg, "text", {x: M.l + 22 + (i % 3) * 190, y: M.t + 11 + Math.floor(i / 3) * 14}, label(name).slice(0, 30));
    });
  }
  function empty(svg) { el(svg, "text", {class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle"}, "no data"); return 0; }

  function lines(svg, seriesByStation, yLabel, opts) {
    const names = Object.keys(seriesByStation).filter((k) => seriesByStation[k].length);
    if (!names.length) return empty(svg);
    let series = seriesByStation, xfmt = null;
    const allX = names.flatMap((k) => seriesByStation[k].map((p) => p[0]));
    const [ax0, ax1] = extent(allX);
    if (opts && opts.foldYears && ax1 - ax0 > 400 * 86400e3) {
      // Station-years from different years: put each on its own year's calendar (time of year).
      series = {};
      for (const k of names) series[k] = seriesByStation[k].map((p) => {
        const d = new Date(p[0]);
        return [p[0] - Date.UTC(d.getUTCFullYear(), 0, 1) + Date.UTC(2000, 0, 1), p[1]];
      });
      xfmt = (v) => new Date(v).toISOString().slice(5, 10);
      svg.dataset.folded = "true";
    }
    const all = names.flatMap((k) => series[k]);
    const [x0, x1] = extent(all.map((p) => p[0])), [y0, y1] = extent(all.map((p) => p[1]));
    const x = scale(x0, x1, M.l, W - M.r), y = scale(y0, y1, H - M.b, M.t + 30);
    axes(svg, x, y, [x0, (x0 + x1) / 2, x1], ticks(y0, y1, 6), xfmt || ((v) => fmtTime(v, x1 - x0)),
         (v) => v + yLabel);
    let drawn = 0;
    for (const name of names) {
      // One path per station; a new segment starts where time goes back (a second folded year).
      let d = "", last = -Infinity;
      for (const p of series[name]) {
        d += (p[0] < last ? "M" : (d ? "L" : "M")) + x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1);
        last = p[0];
      }
      el(svg, "path", {d: d, fill: "none", stroke: color(name), "stroke-width": 1.2, class: "series",
                       "data-station": name, "data-points": series[name].length});
      if (series[name].length < 60)  // a line of a few points is hard to see: mark them
        for (const p of series[name]) el(svg, "circle", {cx: x(p[0]), cy: y(p[1]), r: 2.5, fill: color(name)});
      drawn += 1;
    }
    legend(svg, names);
    return drawn;
  }

  function bars(svg, items, labelKey, valueKey, fill) {
    if (!items.length) return empty(svg);
    const shown = items.slice(0, 12), max = Math.max(...shown.map((d) => d[valueKey])) || 1;
    const left = 200, band = (H - M.t - 10) / shown.length;
    const x = scale(0, max, left, W - M.r - 40);
    shown.forEach((d, i) => {
      const yy = M.t + i * band;
      const label = String(d[labelKey]);
      const text = el(svg, "text", {x: left - 6, y: yy + band * 0.65, "text-anchor": "end"},
                      label.length > 28 ? label.slice(0, 27) + "…" : label);
      el(text, "title", {}, label);
      el(svg, "rect", {x: left, y: yy + band * 0.15, width: Math.max(1, x(d[valueKey]) - left), height: band * 0.7,
                       fill: typeof fill === "function" ? fill(d) : fill, "data-label": d[labelKey],
                       "data-value": d[valueKey]});
      el(svg, "text", {x: x(d[valueKey]) + 4, y: yy + band * 0.65}, String(Math.round(d[valueKey] * 10) / 10));
    });
    if (items.length > shown.length)
      el(svg, "text", {x: W - M.r, y: H - 4, "text-anchor": "end"}, "+" + (items.length - shown.length) + " more");
    return shown.length;
  }

  function map(svg, stations) {
    const located = stations.filter((s) => s.latitude !== null && s.longitude !== null);
    if (!located.length) return empty(svg);
    const [lo0, lo1] = extent(located.map((s) => s.longitude)), [la0, la1] = extent(located.map((s) => s.latitude));
    const padLon = Math.max(5, (lo1 - lo0) * 0.15), padLat = Math.max(5, (la1 - la0) * 0.15);
    const x = scale(Math.max(-180, lo0 - padLon), Math.min(180, lo1 + padLon), M.l, W - M.r);
    const y = scale(Math.max(-90, la0 - padLat), Math.min(90, la1 + padLat), H - M.b, M.t);
    axes(svg, x, y, ticks(Math.max(-180, lo0 - padLon), Math.min(180, lo1 + padLon), 6),
         ticks(Math.max(-90, la0 - padLat), Math.min(90, la1 + padLat), 5), (v) => v + "°", (v) => v + "°");
    const most = Math.max(...located.map((s) => s.messages)) || 1;
    for (const s of located) {
      el(svg, "circle", {cx: x(s.longitude), cy: y(s.latitude), r: 4 + 10 * Math.sqrt(s.messages / most),
                         fill: color(s.weather_station), "fill-opacity": 0.75, "data-station": s.weather_station});
      el(svg, "text", {x: x(s.longitude) + 10, y: y(s.latitude) - 8}, label(s.weather_station));
    }
    return located.length;
  }

  function latency(svg, rows) {
    const usable = rows.filter((r) => r.latency_p50_ms !== null && r.latency_p50_ms !== undefined);
    if (!usable.length) return empty(svg);
    const items = [];
    for (const r of usable) {
      items.push({label: r.weather_station + " p50", value: r.latency_p50_ms, station: r.weather_station});
      items.push({label: r.weather_station + " p95", value: r.latency_p95_ms, station: r.weather_station});
    }
    return bars(svg, items, "label", "value", (d) => color(d.station));
  }

  const drawers = {
    temperature: (svg) => lines(svg, DATA.temperature || {}, "°", {foldYears: true}),
    map: (svg) => map(svg, DATA.stations || []),
    conditions: (svg) => bars(svg, DATA.conditions || [], "label", "n", "#4c78a8"),
    clouds: (svg) => bars(svg, DATA.clouds || [], "label", "n", "#72b7b2"),
    rate: (svg) => lines(svg, DATA.rate || {}, "/min"),
    latency: (svg) => latency(svg, DATA.delivery || []),
  };
  let done = 0;
  for (const figure of document.querySelectorAll("figure.chart")) {
    const svg = figure.querySelector("svg");
    try {
      const drawn = drawers[figure.dataset.chart](svg);
      figure.dataset.drawn = String(drawn);
      figure.dataset.status = drawn > 0 ? "drawn" : "empty";
      done += 1;
    } catch (err) {
      figure.dataset.status = "error";
      figure.dataset.error = String(err);
    }
  }
  document.body.dataset.chartsDrawn = String(done);
})();
"""
