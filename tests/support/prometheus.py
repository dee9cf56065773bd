"""A real Prometheus for tests: docker/prometheus (Debian's package on BASE_IMAGE), on the host network, listening
on 127.0.0.1 only, with a configuration the test writes (deploy.metrics.config renders it)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def prometheus_image() -> str:
    """env PROMETHEUS_IMAGE, else docker/prometheus built on BASE_IMAGE (cached by docker after the first time)."""
    if os.environ.get("PROMETHEUS_IMAGE"):
        return os.environ["PROMETHEUS_IMAGE"]
    tag = "weather-fleet-test/prometheus:latest"
    base = os.environ.get("BASE_IMAGE") or "debian:bookworm-slim"
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", tag,
                    str(REPO_ROOT / "docker" / "prometheus")], check=True, capture_output=True)
    return tag


class Prometheus:
    """`with Prometheus(config_dir, port) as p:` runs it with config_dir at /etc/prometheus/fleet."""

    def __init__(self, config_dir: Path, port: int) -> None:
        self.config_dir, self.port = config_dir, port
        self.name = f"wf-test-prometheus-{uuid.uuid4().hex[:8]}"
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Prometheus:
        subprocess.run(["docker", "run", "-d", "--name", self.name, "--network", "host",
                        "-v", f"{self.config_dir}:/etc/prometheus/fleet:ro", prometheus_image(),
                        "--config.file=/etc/prometheus/fleet/prometheus.yml", "--storage.tsdb.path=/prometheus",
                        f"--web.listen-address=127.0.0.1:{self.port}"], check=True, capture_output=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=2)
                return self
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"prometheus did not get ready:\n{self.logs()}")

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, check=False)

    def logs(self) -> str:
        out = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True, check=False)
        return out.stdout + out.stderr

    def api(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as response:
            doc = json.load(response)
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, promql: str) -> list[tuple[dict, float]]:
        """An instant query: (labels, value) per series."""
        return [(r["metric"], float(r["value"][1])) for r in self.api("query", query=promql)["result"]]

    def wait_for(self, promql: str, predicate, timeout: float = 60.0) -> list[tuple[dict, float]]:
        deadline, result = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if predicate(result):
                return result
            time.sleep(1)
        raise AssertionError(f"{promql} never satisfied the test: last {result}")

    def firing_alerts(self) -> list[dict]:
        return [a for a in self.api("alerts")["alerts"] if a["state"] == "firing"]
