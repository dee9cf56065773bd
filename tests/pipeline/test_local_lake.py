"""The lake writer without MQTT: buffering, partitions, atomic files, exactly-once across restarts and crashes."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import pipeline.lake as lake_module
from pipeline.cold import ColdTable
from pipeline.errors import PipelineError
from pipeline.lake import LakeWriter, lake_files
from tests.support.synthetic import message


def payload(thing: str, seq: int, temperature: float | None = 1.0) -> bytes:
    return json.dumps(message(thing, seq, temperature), separators=(",", ":")).encode()


def read_lake(lake_dir: Path) -> list[dict]:
    """Every record of every visible lake file; fails on anything that is not gzip NDJSON of objects."""
    records = []
    for path in lake_files(lake_dir / "sensor" / "weather"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
        assert text.endswith("\n"), path
        for line in text.splitlines():
            doc = json.loads(line)
            assert isinstance(doc, dict)
            records.append(doc)
    return records


def die(writer: LakeWriter) -> None:
    """What a killed process leaves: no flush, its ledger connection and writer lock gone."""
    writer.ledger.close()
    writer._lock_file.close()


def keys(records: list[dict]) -> Counter:
    return Counter((r["thing_name"], r["seq"]) for r in records)


def test_flushes_on_size_into_valid_gzip_ndjson(tmp_path: Path) -> None:
    acked: list[str] = []
    writer = LakeWriter(tmp_path, buffer_bytes=4000, buffer_seconds=3600, ack=acked.append)
    for seq in range(20):
        writer.add(payload("a", seq), f"a/{seq}", publisher="a")
    files = lake_files(tmp_path / "sensor" / "weather")
    assert len(files) >= 2, "a few messages of ~1.3 kB each must fill a 4000-byte buffer several times"
    written = keys(read_lake(tmp_path))
    assert writer.buffered == 20 - sum(written.values())
    assert sorted(acked) == sorted(f"{t}/{s}" for t, s in written)  # acknowledged = written, nothing more
    writer.close()
    assert keys(read_lake(tmp_path)) == Counter(("a", s) for s in range(20))
    assert len(acked) == 20


def test_flushes_on_age_with_the_timer(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path, buffer_bytes=10**9, buffer_seconds=0.2)
    stop = threading.Event()
    timer = threading.Thread(target=writer.run_timer, args=(stop,))
    timer.start()
    try:
        writer.add(payload("a", 0), publisher="a")
        deadline = time.monotonic() + 5
        while not lake_files(tmp_path / "sensor" / "weather") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1})
    finally:
        stop.set()
        timer.join()
        writer.close()


def test_partitions_by_utc_hour_of_arrival(tmp_path: Path) -> None:
    arrivals = iter([datetime(2026, 11, 27, 21, 59, 59, tzinfo=timezone.utc),
                     datetime(2026, 11, 27, 22, 0, 1, tzinfo=timezone.utc)])
    writer = LakeWriter(tmp_path, clock=lambda: next(arrivals))
    writer.add(payload("a", 0), publisher="a")
    writer.add(payload("a", 1), publisher="a")
    writer.close()
    files = lake_files(tmp_path / "sensor" / "weather")
    assert [str(f.parent.relative_to(tmp_path)) for f in files] == [
        "sensor/weather/2026/11/27/21", "sensor/weather/2026/11/27/22"]
    assert files[0].name.startswith("weather-lake-1-2026-11-27-21-59-59-") and files[0].suffix == ".gz"


def test_deduplicates_within_a_buffer_and_across_restarts(tmp_path: Path) -> None:
    acked: list[str] = []
    first = LakeWriter(tmp_path, ack=acked.append)
    assert first.add(payload("a", 0), "1", publisher="a") == "buffered"
    assert first.add(payload("a", 0), "2", publisher="a") == "duplicate"  # redelivery while still buffered
    first.add(payload("b", 0), "3", publisher="b")
    first.close()
    second = LakeWriter(tmp_path, ack=acked.append)
    assert second.add(payload("a", 0), "4", publisher="a") == "duplicate"  # redelivery after a restart
    assert "4" in acked, "a duplicate of a written message is acknowledged at once"
    second.add(payload("a", 1), "5", publisher="a")
    second.close()
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1, ("b", 0): 1, ("a", 1): 1})
    assert sorted(acked) == ["1", "2", "3", "4", "5"]


def test_crash_after_commit_before_rename_is_rolled_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = LakeWriter(tmp_path)
    writer.add(payload("a", 0), publisher="a")
    acked: list[str] = []
    writer.set_ack(acked.append)
    writer.add(payload("a", 1), "x", publisher="a")

    def crash(*args: object) -> None:
        raise KeyboardInterrupt("simulated crash between ledger commit and rename")

    monkeypatch.setattr(lake_module.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        writer.flush()
    monkeypatch.undo()
    assert acked == [], "nothing is acknowledged before its file is visible"
    assert read_lake(tmp_path) == []  # the file is not visible yet...
    die(writer)
    restarted = LakeWriter(tmp_path)  # ...recovery renames the committed temporary file
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1, ("a", 1): 1})
    assert restarted.add(payload("a", 1), publisher="a") == "duplicate"  # the broker's redelivery is dropped
    restarted.close()
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1, ("a", 1): 1})
    assert list((tmp_path / ".state" / "tmp").iterdir()) == []


def test_crash_before_commit_leaves_nothing_and_redelivery_writes_once(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    writer = LakeWriter(tmp_path)
    writer.add(payload("a", 0), publisher="a")

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("simulated crash before the ledger commit")

    monkeypatch.setattr(writer.ledger, "commit_file", crash)
    with pytest.raises(KeyboardInterrupt):
        writer.flush()
    monkeypatch.undo()
    assert any((tmp_path / ".state" / "tmp").iterdir()), "the complete temporary file was left behind"
    die(writer)
    restarted = LakeWriter(tmp_path)
    assert list((tmp_path / ".state" / "tmp").iterdir()) == [], "uncommitted temporary files are removed"
    # The broker redelivers the unacknowledged message.
    assert restarted.add(payload("a", 0), publisher="a") == "buffered"
    restarted.close()
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1})


def test_failed_flush_keeps_the_batch_and_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    acked: list[str] = []
    writer = LakeWriter(tmp_path, ack=acked.append)
    writer.add(payload("a", 0), "1", publisher="a")
    calls = {"n": 0}
    real = writer.ledger.commit_file

    def flaky(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(writer.ledger, "commit_file", flaky)
    with pytest.raises(OSError):
        writer.flush()
    assert acked == [] and writer.buffered == 1
    writer.flush()
    assert acked == ["1"] and keys(read_lake(tmp_path)) == Counter({("a", 0): 1})
    writer.close()


def test_bad_payloads_go_to_the_error_prefix_and_lose_nothing_else(tmp_path: Path) -> None:
    acked: list[str] = []
    writer = LakeWriter(tmp_path, ack=acked.append)
    writer.add(payload("a", 0), "good-0", publisher="a")
    assert writer.add(b'{"temperature": NaN', "bad-json") == "error"
    assert writer.add(b'{"thing_name": "a"}', "no-seq") == "error"
    assert writer.add(b"[1, 2]", "array") == "error"
    assert writer.add(b'{"thing_name": "a", "seq": 7, "t": NaN}', "nan") == "error"  # Python would accept it
    assert writer.add('{"thing_name": "a", "seq": 8}'.encode("utf-16"), "utf16") == "error"
    writer.add(payload("a", 1), "good-1", publisher="a")
    writer.close()
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1, ("a", 1): 1})
    errors = []
    for path in sorted((tmp_path / "errors" / "sensor" / "weather").rglob("*.gz")):
        with gzip.open(path, "rt") as fh:
            errors += [json.loads(line) for line in fh]
    assert len(errors) == 5
    assert {e["error"].split(":")[0] for e in errors} == {"not JSON", "no non-negative integer seq",
                                                          "not a JSON object but list", "not UTF-8"}
    assert [e for e in errors if "NaN" in e["raw"]][0]["error"].startswith("not JSON: NaN is not a JSON value")
    assert sorted(acked) == ["array", "bad-json", "good-0", "good-1", "nan", "no-seq", "utf16"]


def test_acknowledges_only_when_the_file_is_visible(tmp_path: Path) -> None:
    seen_at_ack: list[bool] = []

    def ack(token: str) -> None:
        seen_at_ack.append(("a", int(token)) in keys(read_lake(tmp_path)))

    writer = LakeWriter(tmp_path, buffer_bytes=3000, ack=ack)
    for seq in range(10):
        writer.add(payload("a", seq), str(seq), publisher="a")
    writer.close()
    assert seen_at_ack == [True] * 10


def test_cold_rule_runs_on_each_flush(tmp_path: Path) -> None:
    cold = ColdTable(tmp_path / "cold.sqlite3")
    writer = LakeWriter(tmp_path, cold=cold)
    temps = [-12.0, -5.0, -5.1, None, 4.0, -30.5]
    for seq, t in enumerate(temps):
        writer.add(payload("a", seq, t), publisher="a")
    writer.close()
    items = cold.items()
    assert [i["air_temperature_value"] for i in items] == [-12.0, -5.1, -30.5]
    assert all(i["weather_station"] == "a-99999" for i in items)
    expected_times = [(datetime(2022, 1, 1, tzinfo=timezone.utc) + timedelta(hours=s)).isoformat()
                      for s, t in enumerate(temps) if t is not None and t < -5]
    assert [i["time"] for i in items] == expected_times
    cold.close()


def test_a_failing_cold_rule_does_not_stop_the_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = ColdTable(tmp_path / "cold.sqlite3")
    writer = LakeWriter(tmp_path, cold=cold)

    def broken(messages: object) -> int:
        raise RuntimeError("rule broken")

    monkeypatch.setattr(cold, "apply", broken)
    writer.add(payload("a", 0, -9.0), publisher="a")
    writer.close()
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1})
    assert writer.cold_failures == 1 and cold.count() == 0
    monkeypatch.undo()
    from pipeline.cold import backfill_from_lake

    assert backfill_from_lake(cold, lake_files(tmp_path / "sensor" / "weather")) == 1
    assert [i["air_temperature_quality"] for i in cold.items()] == ["1"]
    cold.close()


def test_rule_over_a_batch_without_any_temperature(tmp_path: Path) -> None:
    from pipeline.cold import evaluate_rule

    assert evaluate_rule([json.loads(payload("a", s, None)) for s in range(3)]) == []
    assert evaluate_rule([]) == []


def test_cold_rule_takes_only_a_things_own_messages() -> None:
    """`thing_name = clientid()`: a cold message from another publisher, or with none, selects nothing."""
    from pipeline.cold import evaluate_rule
    from tests.support.synthetic import message

    own, forged = message("a", 0, -10.0), message("a", 1, -12.0)
    assert [i["air_temperature_value"] for i in evaluate_rule([{**own, "publisher": "a"},
                                                               {**forged, "publisher": "b"}])] == [-10.0]
    assert evaluate_rule([own]) == []  # no authenticated publisher at all


def test_a_second_writer_on_the_same_lake_is_refused(tmp_path: Path) -> None:
    first = LakeWriter(tmp_path)
    with pytest.raises(PipelineError, match="another lake writer is running"):
        LakeWriter(tmp_path)
    first.close()
    LakeWriter(tmp_path).close()  # free again once the first one stopped


# --- identity: the stored publisher is the authenticated one (issue 10, docs/security.md) ---------------------

def side_records(lake_dir: Path, folder: str) -> list[dict]:
    records = []
    for path in sorted((lake_dir / folder / "sensor" / "weather").rglob("*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            records += [json.loads(line) for line in fh]
    return records


def test_every_stored_record_carries_its_authenticated_publisher(tmp_path: Path) -> None:
    writer = LakeWriter(tmp_path)
    assert writer.add(payload("a", 0), publisher="a") == "buffered"
    # A payload naming its own publisher is overruled by the broker's.
    forged_field = json.dumps({**message("b", 0, 2.0), "publisher": "someone-else"}).encode()
    assert writer.add(forged_field, publisher="b") == "buffered"
    writer.close()
    stored = {(r["thing_name"], r["seq"]): r for r in read_lake(tmp_path)}
    assert stored[("a", 0)]["publisher"] == "a"
    assert stored[("b", 0)]["publisher"] == "b"
    assert {k: v for k, v in stored[("a", 0)].items() if k != "publisher"} == json.loads(payload("a", 0))


def test_a_message_claiming_another_thing_is_quarantined_and_the_genuine_one_stored(tmp_path: Path) -> None:
    acked: list[str] = []
    writer = LakeWriter(tmp_path, ack=acked.append)
    forged = json.dumps({**message("station-2", 11558, 99.0), "weather_station": "FORGED"}).encode()
    assert writer.add(forged, "forged", publisher="station-1") == "quarantined"
    assert writer.add(payload("station-2", 11558), "genuine", publisher="station-2") == "buffered"
    writer.close()
    stored = read_lake(tmp_path)
    assert keys(stored) == Counter({("station-2", 11558): 1})
    assert stored[0]["weather_station"] != "FORGED" and stored[0]["publisher"] == "station-2"
    [kept] = side_records(tmp_path, "quarantine")
    assert kept["publisher"] == "station-1" and "FORGED" in kept["raw"]
    assert kept["reason"] == "thing_name is not the authenticated publisher"
    assert writer.quarantined == 1 and writer.duplicates == 0
    assert sorted(acked) == ["forged", "genuine"]  # kept apart, so acknowledged: nothing redelivered forever


def test_a_message_without_publisher_is_quarantined_unless_allowed(tmp_path: Path) -> None:
    strict = LakeWriter(tmp_path / "strict")
    assert strict.add(payload("a", 0)) == "quarantined"
    strict.close()
    assert read_lake(tmp_path / "strict") == []
    assert side_records(tmp_path / "strict", "quarantine")[0]["reason"].startswith("no authenticated publisher")
    lax = LakeWriter(tmp_path / "lax", require_publisher=False)
    assert lax.add(payload("a", 0)) == "buffered"
    lax.close()
    [record] = read_lake(tmp_path / "lax")
    assert record["publisher"] is None and record["thing_name"] == "a"


def test_same_publisher_and_seq_with_another_body_is_a_conflict_kept_and_counted(tmp_path: Path) -> None:
    acked: list[str] = []
    writer = LakeWriter(tmp_path, ack=acked.append)
    assert writer.add(payload("a", 0, 1.0), "first", publisher="a") == "buffered"
    assert writer.add(payload("a", 0, 5.0), "in-buffer", publisher="a") == "conflict"  # still buffered
    writer.flush()
    assert writer.add(payload("a", 0, 1.0), "redelivery", publisher="a") == "duplicate"
    writer.close()
    restarted = LakeWriter(tmp_path, ack=acked.append)
    assert restarted.add(payload("a", 0, 7.0), "after-restart", publisher="a") == "conflict"  # from the ledger
    restarted.close()
    stored = read_lake(tmp_path)
    assert keys(stored) == Counter({("a", 0): 1}) and stored[0]["air_temperature"]["value"] == 1.0
    conflicts = side_records(tmp_path, "conflicts")
    assert sorted(json.loads(c["raw"])["air_temperature"]["value"] for c in conflicts) == [5.0, 7.0]
    assert {c["publisher"] for c in conflicts} == {"a"} and all(c["seq"] == 0 for c in conflicts)
    assert writer.conflicts == 1 and writer.duplicates == 1 and restarted.conflicts == 1
    assert sorted(acked) == ["after-restart", "first", "in-buffer", "redelivery"]


def test_a_ledger_from_before_digests_keeps_deduplicating(tmp_path: Path) -> None:
    import sqlite3

    writer = LakeWriter(tmp_path)
    writer.add(payload("a", 0), publisher="a")
    writer.close()
    db = sqlite3.connect(tmp_path / ".state" / "ledger.sqlite3")
    db.execute("UPDATE seen SET digest = NULL")  # what the old schema's rows become after the migration
    db.commit()
    db.close()
    again = LakeWriter(tmp_path)
    assert again.add(payload("a", 0, 3.0), publisher="a") == "duplicate"  # cannot compare: a redelivery
    assert again.add(payload("a", 1), publisher="a") == "buffered"
    again.close()
    assert keys(read_lake(tmp_path)) == Counter({("a", 0): 1, ("a", 1): 1})
