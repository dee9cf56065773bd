"""A local NCEI-layout HTTP server for download tests (http.server in a thread, 127.0.0.1 only).

It serves a folder (BASE/YEAR/USAF-WBAN-YEAR.gz, BASE/isd-history.csv) and can misbehave per path, a given number
of times: cut the connection halfway through the body, serve corrupted bytes, or stall halfway (until released).
It records every request and the most requests it served at once.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import SAMPLE_DIR, isd_data_dir

REPO = Path(__file__).resolve().parents[2]
SMALL_FIXTURE = REPO / "tests" / "data" / "isd" / "720538-00164-2021.gz"
CATALOGUE_EXCERPT = REPO / "tests" / "data" / "isd-history-excerpt.csv"


def real_gz_files() -> list[Path]:
    """The real .gz station-years to serve: DATA_DIR's, or without them the committed excerpts (tests/data/isd:
    the lab's five, 720538-00164-2020 and -2021)."""
    folder = isd_data_dir()
    found = sorted(folder.glob("*.gz")) if folder.is_dir() else []
    return found or sorted(SAMPLE_DIR.glob("*.gz"))


def ncei_tree(root: Path, files: list[Path] | None = None, catalogue: bool = True) -> dict[str, bytes]:
    """Copy `files` into root/YEAR/NAME (NCEI layout); stem -> original bytes."""
    served: dict[str, bytes] = {}
    for f in files or real_gz_files():
        stem = f.name.removesuffix(".gz")
        year = stem.rsplit("-", 1)[1]
        (root / year).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, root / year / f.name)
        served[stem] = f.read_bytes()
    if catalogue:
        shutil.copyfile(CATALOGUE_EXCERPT, root / "isd-history.csv")
    return served


def closed_port() -> int:
    """A local port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class IsdServer:
    """Serve `root` on 127.0.0.1; use as a context manager. `base_url` is NCEI_BASE_URL for it."""

    def __init__(self, root: Path, delay: float = 0.0) -> None:
        self.root = root
        self.delay = delay
        self.requests: Counter[str] = Counter()
        self.cut: Counter[str] = Counter()       # path -> times to cut the body halfway
        self.corrupt: Counter[str] = Counter()   # path -> times to serve damaged bytes
        self.stall: Counter[str] = Counter()     # path -> times to stall halfway until `release` is set
        self.half_sent = threading.Event()
        self.release = threading.Event()
        self.max_inflight = 0
        self._inflight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.lstrip("/")
                with server._lock:
                    server.requests[path] += 1
                    server._inflight += 1
                    server.max_inflight = max(server.max_inflight, server._inflight)
                try:
                    server._serve(self, path)
                finally:
                    with server._lock:
                        server._inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _take(self, counter: Counter[str], path: str) -> bool:
        with self._lock:
            if counter[path] > 0:
                counter[path] -= 1
                return True
        return False

    def _serve(self, h: BaseHTTPRequestHandler, path: str) -> None:
        if self.delay:
            time.sleep(self.delay)
        file = self.root / path
        if not file.is_file():
            h.send_error(404, "Not Found")
            return
        body = file.read_bytes()
        if self._take(self.corrupt, path):
            mid = len(body) // 2
            body = body[:mid] + bytes(b ^ 0x5A for b in body[mid : mid + 64]) + body[mid + 64 :]
        h.send_response(200)
        h.send_header("Content-Type", "application/gzip")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if self._take(self.cut, path):
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        if self._take(self.stall, path):
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            self.half_sent.set()
            self.release.wait(30)
            h.close_connection = True
            return
        h.wfile.write(body)

    def __enter__(self) -> IsdServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
