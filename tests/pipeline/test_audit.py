"""`pipeline audit` on a lake written by the real lake writer, fed with the emissions of the station's fault
injector, against the stations' checkpoints and ground truth: the exact injected numbers come back."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.audit import AUDIT_FAILED, run_audit
from pipeline.cli import main
from pipeline.lake import LakeWriter
from pipeline.settings import PipelineSettings
from station import checkpoint as ckpt
from station.faults import open_faults
from tests.support.synthetic import message

SCENARIO = """
seed: 42
rules:
  - {kind: duplicate, select: {names: [st-1]}, when: {every: 10}}
  - {kind: malformed, select: {names: [st-1]}, when: {after: 30, until: 33}}
  - {kind: impersonate, victim: st-2, select: {names: [st-1]}, when: {every: 40}}
  - {kind: offline, mode: drop, select: {names: [st-1]}, when: {after: 60, until: 63}}
  - {kind: offline, select: {names: [st-1]}, when: {after: 69, until: 74}}
  - {kind: reorder, behind: 2, select: {names: [st-1]}, when: {after: 89, until: 90}}
  - {kind: clock_skew, offset: 3600, select: {names: [st-1]}, when: {after: 94}}
"""
T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


class Clock:
    """The writer's arrival clock: 10 ms per message, so arrival order is exact."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=10)
        return self.now


def body(thing: str, seq: int) -> bytes:
    doc = message(thing, seq, 1.0)
    doc["sent_at"] = (T0 + timedelta(seconds=seq * 0.01)).isoformat(timespec="milliseconds")
    return json.dumps(doc, separators=(",", ":")).encode()


def publish(writer: LakeWriter, thing: str, count: int, faults, state: Path) -> None:
    """A station's replay in miniature: step each seq through its injector, hand every emission to the lake writer
    as the broker would (publisher = the authenticated thing), drop what is dropped, checkpoint the last seq."""
    injector = faults.injector(thing)
    for seq in range(1, count + 1):
        payload = body(thing, seq)
        emissions = [payload] if injector is None else [e.payload for e in injector.step(seq, payload, seq).emit]
        for p in emissions:
            writer.add(p, publisher=thing)
    if injector is not None:
        for e in injector.drain():
            writer.add(e.payload, publisher=thing)
    faults.truth.flush()
    ckpt.save(ckpt.checkpoint_path(state, thing), ckpt.Checkpoint(
        thing_name=thing, data_file="x.gz", fingerprint="sha256:0", line=count, seq=count, finished=True))


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[PipelineSettings, Path]:
    scenario = tmp_path / "faults.yaml"
    scenario.write_text(SCENARIO)
    state = tmp_path / "state"
    lake = tmp_path / "lake"
    writer = LakeWriter(lake, buffer_bytes=20000, buffer_seconds=3600, clock=Clock())
    faults = open_faults(scenario, state, "group-1", started_at=0.0)
    publish(writer, "st-1", 100, faults, state)
    publish(writer, "st-2", 50, faults, state)
    writer.close()
    return PipelineSettings(LAKE_DIR=lake), state


def test_the_audit_reports_exactly_what_was_injected(fleet: tuple[PipelineSettings, Path]) -> None:
    settings, state = fleet
    audit = run_audit(settings, [state])
    one, two = audit.stations
    assert (one.thing, one.acked_through, one.expected, one.stored, one.missing) == ("st-1", 100, 94, 94, 0)
    assert (one.duplicates_stored, one.out_of_order, one.errors, one.quarantined) == (0, 1, 3, 2)
    assert (one.malformed_stored, one.forged_stored) == (0, 0)
    assert {k: (o.injected, o.stored, o.rejected) for k, o in one.faults.items()} == {
        "duplicate": (10, 0, 0), "malformed": (3, 0, 3), "impersonate": (2, 0, 2), "offline": (8, 5, 0),
        "reorder": (1, 1, 0), "clock_skew": (6, 6, 0)}
    assert (two.thing, two.expected, two.stored, two.missing, two.faults) == ("st-2", 50, 50, 0, {})
    assert not audit.failed and audit.total.missing == 0 and audit.total.stored == 144
    # sent_at 10 ms per seq, arrivals 10 ms per message added: a few seconds at most; the messages whose clock
    # was set an hour ahead (-3,600,000 ms) are left out
    assert 0 <= audit.total.latency_ms["p50"] <= audit.total.latency_ms["max"] < 5000


def test_a_lost_acknowledged_message_fails_the_audit(fleet: tuple[PipelineSettings, Path], capsys) -> None:
    settings, state = fleet
    ckpt.save(ckpt.checkpoint_path(state, "st-2"), ckpt.Checkpoint(
        thing_name="st-2", data_file="x.gz", fingerprint="sha256:0", line=52, seq=52))  # 51, 52 acked, never stored
    audit = run_audit(settings, [state])
    assert audit.failed and audit.total.missing == 2 and audit.stations[1].missing_seqs == [[51, 52]]
    import os
    os.environ["LAKE_DIR"] = str(settings.lake_dir)
    try:
        assert main(["audit", "--state", str(state)]) == AUDIT_FAILED
        assert "MISSING st-2: seqs 51-52" in capsys.readouterr().out
        assert main(["audit", "--state", str(state), "--json"]) == AUDIT_FAILED
        doc = json.loads(capsys.readouterr().out)
        assert doc["failed"] is True and doc["total"]["missing"] == 2
    finally:
        del os.environ["LAKE_DIR"]


def test_a_forged_message_stored_as_data_fails_the_audit(tmp_path: Path) -> None:
    lake, state = tmp_path / "lake", tmp_path / "state"
    writer = LakeWriter(lake, buffer_seconds=3600, require_publisher=False)  # a pipeline that trusts payloads
    writer.add(body("st-1", 1), publisher="st-1")
    writer.add(body("st-1", 2), publisher=None)
    writer.close()
    ckpt.save(ckpt.checkpoint_path(state, "st-1"), ckpt.Checkpoint(
        thing_name="st-1", data_file="x.gz", fingerprint="sha256:0", line=1, seq=1))
    audit = run_audit(PipelineSettings(LAKE_DIR=lake), [state])
    assert audit.failed and audit.total.forged_stored == 1 and audit.total.missing == 0


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_time_without_an_offset_is_utc_whatever_the_hosts_zone(zone: str, monkeypatch) -> None:
    """Regression: Athena prints sent_at without its offset; read as local time, every AWS latency was off by the
    host's UTC offset."""
    import time

    from pipeline.audit import _seconds

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        expected = datetime(2024, 5, 1, 12, 0, 1, tzinfo=timezone.utc).timestamp()
        assert _seconds("2024-05-01 12:00:01.000") == expected
        assert _seconds("2024-05-01T14:00:01.000+02:00") == expected
        assert _seconds(None) is None and _seconds("not a time") is None
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_missing_seqs_at_the_start_or_the_end_come_with_their_likely_cause() -> None:
    from pipeline.audit import StationAudit, missing_hints

    def station(name: str, acked: int, stored: int, missing: list[list[int]]) -> StationAudit:
        return StationAudit(name, acked_through=acked, stored=stored, missing=sum(b - a + 1 for a, b in missing),
                            missing_seqs=missing)

    started_late = [station("a", 100, 84, [[1, 16]]), station("b", 100, 84, [[1, 16]])]
    [hint] = missing_hints(started_late + [station("c", 100, 100, [])])
    assert hint.startswith("2 station(s) miss their first messages (from seq 1)") and "`make lake-up`" in hint
    [hint] = missing_hints([station("a", 242, 138, [[139, 242]])])
    assert hint.startswith("1 station(s) miss their last acknowledged messages") and "`make lake-down`" in hint
    assert len(missing_hints([station("a", 242, 122, [[1, 16], [139, 242]])])) == 2
    assert missing_hints([station("a", 100, 99, [[50, 50]])]) == [], "a hole in the middle is a plain loss"
    assert missing_hints([station("a", 100, 0, [[1, 100]])]) == [], "nothing stored: no pattern to read"
