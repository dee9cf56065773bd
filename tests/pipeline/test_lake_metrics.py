"""Lake writer metrics (pipeline/lake_metrics.py): the writer's counts, latency and buffer, as scraped."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.lake import LakeWriter
from pipeline.lake_metrics import LakeMetrics
from tests.support.synthetic import message


def body(thing: str, seq: int, sent_at: datetime) -> bytes:
    doc = message(thing, seq, 1.0)
    doc["sent_at"] = sent_at.isoformat(timespec="milliseconds")
    return json.dumps(doc).encode()


def value(m: LakeMetrics, name: str) -> float | None:
    return m.registry.get_sample_value(name, {"group": "monitor-lake"})


def test_counts_of_a_known_mix(tmp_path: Path) -> None:
    m = LakeMetrics("monitor-lake")
    writer = LakeWriter(tmp_path, buffer_bytes=10**9, buffer_seconds=3600, metrics=m)
    m.attach(writer, lambda: 107)
    sent = datetime.now(timezone.utc) - timedelta(seconds=2)
    try:
        for seq in range(100):
            writer.add(body("s-1", seq, sent), publisher="s-1")
        for seq in range(3):  # redeliveries
            writer.add(body("s-1", seq, sent), publisher="s-1")
        writer.add(body("s-2", 0, sent), publisher="s-1")  # not its own data
        writer.add(b"not json", publisher="s-1")
        assert value(m, "weather_fleet_lake_buffer_bytes") > 0
        assert value(m, "weather_fleet_lake_messages_stored_total") == 0
        writer.flush()
    finally:
        writer.close()
    assert value(m, "weather_fleet_lake_messages_received_total") == 107
    assert value(m, "weather_fleet_lake_messages_stored_total") == 100
    assert value(m, "weather_fleet_lake_duplicates_dropped_total") == 3
    assert value(m, "weather_fleet_lake_quarantined_total") == 1
    assert value(m, "weather_fleet_lake_errors_total") == 1
    assert value(m, "weather_fleet_lake_files_written_total") == 3  # lake, quarantine/, errors/
    assert value(m, "weather_fleet_lake_buffer_bytes") == 0
    assert value(m, "weather_fleet_lake_buffer_age_seconds") == 0
    assert value(m, "weather_fleet_lake_flush_duration_seconds_count") == 1
    # Every stored message, 2 s after its sent_at (and not the rejected ones).
    assert value(m, "weather_fleet_lake_e2e_latency_seconds_count") == 100
    assert value(m, "weather_fleet_lake_e2e_latency_seconds_sum") / 100 == pytest.approx(2.0, abs=1.0)
    assert m.registry.get_sample_value("weather_fleet_lake_e2e_latency_seconds_bucket",
                                       {"group": "monitor-lake", "le": "1.0"}) == 0
    assert m.registry.get_sample_value("weather_fleet_lake_e2e_latency_seconds_bucket",
                                       {"group": "monitor-lake", "le": "5.0"}) == 100


def test_buffer_age_grows_while_messages_wait(tmp_path: Path) -> None:
    m = LakeMetrics("monitor-lake")
    writer = LakeWriter(tmp_path, buffer_bytes=10**9, buffer_seconds=3600, metrics=m)
    m.attach(writer)
    try:
        writer.add(body("s-1", 0, datetime.now(timezone.utc)), publisher="s-1")
        first = value(m, "weather_fleet_lake_buffer_age_seconds")
        import time
        time.sleep(0.2)
        assert value(m, "weather_fleet_lake_buffer_age_seconds") >= first + 0.2
    finally:
        writer.close()


def test_writer_without_metrics_keeps_its_counts(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path, buffer_bytes=10**9, buffer_seconds=3600)
    try:
        writer.add(body("s-1", 0, datetime.now(timezone.utc)), publisher="s-1")
        writer.flush()
        assert (writer.stored, writer.files_written) == (1, 1)
    finally:
        writer.close()
