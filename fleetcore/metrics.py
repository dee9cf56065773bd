"""What every process's Prometheus metrics share: the one name prefix and the HTTP exposition server.

Invariants (docs/observability.md): every metric name starts with `PREFIX`, is in base units (seconds, bytes) and
counters end in `_total`; series are labelled by process (`group`: the container or service name), never by
station unless a small fleet opts in (METRICS_PER_STATION). Each process serves its own registry (never the
global default one, so tests and two writers in one interpreter do not collide) on its own port; port 0 means
no server.
"""

from __future__ import annotations

import logging
import socket
import threading
from http.server import ThreadingHTTPServer
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, disable_created_metrics, make_wsgi_app

log = logging.getLogger(__name__)

# No `<counter>_created` series: they would double the series count for a timestamp no rule of ours reads.
disable_created_metrics()

PREFIX = "weather_fleet_"
# The compose/Swarm ports of each kind of process (same inside every container; docs/observability.md).
STATION_METRICS_PORT = 9101
LAKE_METRICS_PORT = 9102
BROKER_METRICS_PORT = 9103


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # one line per scrape would drown the process's own log


class _ThreadingWSGIServer(ThreadingHTTPServer, WSGIServer):
    daemon_threads = True


class _DualStackServer(_ThreadingWSGIServer):
    address_family = socket.AF_INET6

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class MetricsServer:
    """`/metrics` of one registry over HTTP, in a daemon thread; `port` 0 in the constructor picks a free port
    (tests), `close()` stops it."""

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "") -> None:
        app = make_wsgi_app(registry)
        server_class = _DualStackServer if host in ("", "::") and socket.has_ipv6 else _ThreadingWSGIServer
        self._server = make_server(host or ("::" if server_class is _DualStackServer else "0.0.0.0"), port, app,
                                   server_class=server_class, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(registry: CollectorRegistry, port: int, *, host: str = "", what: str = "metrics") -> MetricsServer | None:
    """Start the exposition server for `registry` on `port` (all interfaces: the compose network reaches it;
    compose publishes it on 127.0.0.1 only where a person needs it); None when `port` is 0 (metrics off)."""
    if port == 0:
        return None
    server = MetricsServer(registry, port, host)
    log.info("%s on http://%s:%d/metrics", what, host or "0.0.0.0", server.port)
    return server
