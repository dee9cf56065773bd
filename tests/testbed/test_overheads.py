"""testbed/overheads.py: the variants `make bench-density` prices faults and metrics with, and their summary."""

from __future__ import annotations

import http.server
import os
import json
import threading
from pathlib import Path

import pytest

from testbed import overheads
from testbed.overheads import Scraper, apply_variant, injected_by_kind, process_cpu_seconds, summarize


def test_a_process_cpu_time_is_its_user_and_system_time(tmp_path: Path) -> None:
    ticks = overheads.CLOCK_TICKS
    (tmp_path / "42").mkdir()
    # a command name with a space and a parenthesis: the fields are counted after its closing one
    (tmp_path / "42" / "stat").write_text(f"42 (station (run) S 1 42 42 0 -1 4194560 9 0 0 0 {3 * ticks} "
                                          f"{ticks // 2} 0 0 20 0 5 0 100 0 0\n")
    assert process_cpu_seconds(42, tmp_path) == 3.5
    mine = process_cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))  # burn some CPU
    assert process_cpu_seconds(os.getpid()) > mine


def test_a_variant_sets_only_its_own_switches() -> None:
    env = {"FAULTS": "/old.yaml", "LOOP": "true"}
    apply_variant(env, "none", Path("/s.yaml"))
    assert env == {"FLEET_METRICS": "false", "LOOP": "true"}
    apply_variant(env, "faults", Path("/s.yaml"))
    assert env == {"FLEET_METRICS": "false", "FAULTS": "/s.yaml", "LOOP": "true"}
    apply_variant(env, "metrics", Path("/s.yaml"))
    assert env == {"FLEET_METRICS": "true", "LOOP": "true"}
    with pytest.raises(ValueError, match="unknown variant 'both'"):
        apply_variant(env, "both", Path("/s.yaml"))


def test_injected_faults_are_counted_by_kind_from_the_ground_truth() -> None:
    lines = [{"t": 1.0, "thing": "group-1", "kind": "start", "params": {"seed": 22}},
             {"t": 1.5, "thing": "s-10", "kind": "clock_skew", "rule": 0, "seqs": [1, 40], "n": 40},
             {"t": 2.0, "thing": "s-20", "kind": "duplicate", "rule": 1, "seqs": [7, 7], "n": 1},
             {"t": 2.1, "thing": "s-10", "kind": "clock_skew", "rule": 0, "seqs": [41, 42], "n": 2},
             {"t": 3.0, "thing": "s-30", "kind": "impersonate", "rule": 8}]
    text = "\n".join(json.dumps(d) for d in lines) + "\n\n"
    assert injected_by_kind(text) == {"clock_skew": 42, "duplicate": 1, "impersonate": 1}


def test_the_summary_is_the_geometric_mean_of_each_windows_ratio_to_none() -> None:
    cpu = {"none": (0.20, 0.30, 0.25), "faults": (0.22, 0.30, 0.25 * 1.1), "metrics": (0.21, 0.33, None)}
    rows = [{"variant": v, "window": f"0.{w}", "cpu_per_1000": c} for v, cs in cpu.items() for w, c in enumerate(cs)]
    out = summarize(rows)
    assert out["none"]["ratios"] == [1.0, 1.0, 1.0] and out["none"]["target"] is None
    assert out["faults"]["ratios"] == pytest.approx([1.1, 1.0, 1.1])
    assert out["faults"]["ratio"] == pytest.approx((1.1 * 1.0 * 1.1) ** (1 / 3)) and out["faults"]["met"] is False
    assert out["faults"]["windows"] == [0.22, 0.30, 0.275] and out["faults"]["median"] == 0.275
    assert out["metrics"]["ratios"] == pytest.approx([1.05, 1.1]), "a window without a figure is left out"
    assert out["metrics"]["ratio"] == pytest.approx((1.05 * 1.1) ** 0.5)


def test_a_places_bias_cancels_when_each_variant_runs_in_each_place() -> None:
    """Fleet 3 runs 10 % cheaper whatever it runs (where its processes land): moved round, it no longer shows."""
    bias = {1: 1.0, 2: 1.0, 3: 0.9}
    true = {"none": 0.20, "faults": 0.21, "metrics": 0.20}
    rows = []
    for r in range(3):
        for i, variant in enumerate(("none", "faults", "metrics")):
            place = (i + r) % 3 + 1
            rows.append({"variant": variant, "window": f"{r}.0", "cpu_per_1000": true[variant] * bias[place]})
    out = summarize(rows)
    assert out["faults"]["ratio"] == pytest.approx(1.05) and out["faults"]["met"] is True
    assert out["metrics"]["ratio"] == pytest.approx(1.0) and out["metrics"]["met"] is True


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        body = b"weather_fleet_messages_published_total{group=\"group-1\"} 7.0\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_the_scraper_scrapes_every_target_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(overheads, "STATION_METRICS_PORT", server.server_address[1])
    asked = []

    def targets() -> list[str] | None:
        asked.append(1)
        return None if len(asked) == 1 else ["127.0.0.1"]  # the groups are not up at the first look

    try:
        scraper = Scraper(targets, interval=0.05).start()
        assert overheads.serves_metrics("127.0.0.1")
        threading.Event().wait(0.6)
        counts = scraper.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert counts["scrapes"] >= 3 and counts["scrape_failures"] == 0
    assert scraper.samples == {"127.0.0.1": 'weather_fleet_messages_published_total{group="group-1"} 7.0\n'}
    assert len(asked) == 2, "targets are asked for until the groups are up, then kept"
    assert not overheads.serves_metrics("127.0.0.1"), "nothing answers once the server is down"
