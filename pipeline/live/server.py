"""The live dashboard's HTTP server, on 127.0.0.1 only: the page, the base layer, and two JSON endpoints.

    GET /               index.html (the page refreshes itself every REFRESH_SECONDS)
    GET /api/basemap    {"path": SVG path of the Natural Earth country outlines}
    GET /api/stations   map points (pipeline.live.data.map_points) from the newest lake files
    GET /api/metrics    the fleet's numbers from Prometheus (PROMETHEUS_URL)
    GET /api/audit      {"html": the last audit's summary section (pipeline.dashboard_audit), "" before any}
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from pipeline.audit_record import read_audit_record
from pipeline.basemap import countries_path
from pipeline.dashboard_audit import AUDIT_CSS, audit_html, audit_summary
from pipeline.live.data import Cached, latest_readings, map_points, prometheus_numbers
from pipeline.settings import PipelineSettings

log = logging.getLogger(__name__)

REFRESH_SECONDS = 3


class LiveDashboard:
    """The running server (`port`, `close()`)."""

    def __init__(self, settings: PipelineSettings, port: int, host: str = "127.0.0.1") -> None:
        page = (resources.files("pipeline.live") / "index.html").read_text().replace(
            "@@REFRESH_MS@@", str(REFRESH_SECONDS * 1000)).replace("@@AUDIT_CSS@@", AUDIT_CSS)
        basemap = json.dumps({"path": countries_path()}).encode()
        stations = Cached(lambda: map_points(latest_readings(settings.lake_root), settings.dashboard_live_points),
                          REFRESH_SECONDS - 0.5)
        numbers = Cached(lambda: prometheus_numbers(settings.prometheus_url.rstrip("/")), REFRESH_SECONDS - 0.5)
        audit = Cached(lambda: {"html": audit_html(audit_summary(read_audit_record(settings.lake_dir)))},
                       REFRESH_SECONDS - 0.5)
        routes = {"/": ("text/html; charset=utf-8", lambda: page.encode()),
                  "/api/basemap": ("application/json", lambda: basemap),
                  "/api/stations": ("application/json", lambda: json.dumps(stations.get(), default=str).encode()),
                  "/api/metrics": ("application/json", lambda: json.dumps(numbers.get()).encode()),
                  "/api/audit": ("application/json", lambda: json.dumps(audit.get()).encode())}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_error(404)
                    return
                body = route[1]()
                self.send_response(200)
                self.send_header("Content-Type", route[0])
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug(format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard-live", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_live_dashboard(settings: PipelineSettings, port: int) -> LiveDashboard:
    return LiveDashboard(settings, port)
