"""The audit's report kept beside the lake (`LAKE_DIR/_audit/latest.json`) and its summary on the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.audit_record import audit_record_path, read_audit_record
from pipeline.cli import main
from pipeline.dashboard import collect, render, write_dashboard
from pipeline.dashboard_audit import audit_html, audit_summary
from pipeline.lake import LakeWriter
from pipeline.settings import PipelineSettings
from station import checkpoint as ckpt
from tests.support.synthetic import message


@pytest.fixture()
def audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineSettings:
    """A lake with seqs 1..5 of st-1 and 1..3 of st-2, st-2 acknowledged through 4: one missing; audited."""
    lake, state = tmp_path / "lake", tmp_path / "state"
    writer = LakeWriter(lake, buffer_seconds=3600)
    for thing, last in (("st-1", 5), ("st-2", 3)):
        for seq in range(1, last + 1):
            writer.add(json.dumps(message(thing, seq, -7.0)).encode(), publisher=thing)
    writer.close()
    for thing, seq in (("st-1", 5), ("st-2", 4)):
        ckpt.save(ckpt.checkpoint_path(state, thing), ckpt.Checkpoint(
            thing_name=thing, data_file="x.gz", fingerprint="sha256:0", line=seq, seq=seq))
    monkeypatch.setenv("LAKE_DIR", str(lake))
    assert main(["audit", "--state", str(state), "--json"]) == 3
    return PipelineSettings(LAKE_DIR=lake)


def test_the_audit_keeps_its_report_beside_the_lake(capsys, audited: PipelineSettings) -> None:
    printed = json.loads(capsys.readouterr().out)
    kept = read_audit_record(audited.lake_dir)
    assert audit_record_path(audited.lake_dir) == audited.lake_dir / "_audit" / "latest.json"
    assert kept is not None and kept.pop("generated_at")
    assert kept == printed
    assert kept["total"]["missing"] == 1 and kept["total"]["stored"] == 8


def test_the_dashboard_shows_the_last_audit(audited: PipelineSettings, tmp_path: Path) -> None:
    data = collect(audited)
    summary = data["audit"]
    assert summary["failed"] is True and summary["stations"] == 2
    assert summary["totals"]["expected"] == 9 and summary["totals"]["missing"] == 1
    assert summary["missing_stations"] == [["st-2", 1]]
    page = write_dashboard(audited, tmp_path / "d.html").read_text()
    section = page.split('<section id="audit"', 1)[1].split("</section>", 1)[0]
    assert 'data-status="failed" data-missing="1"' in section
    assert "<th>expected (acknowledged)</th><td>9</td>" in section and "<li>st-2: 1</li>" in section
    assert page.index('<section id="audit"') < page.index("<main>")


def test_no_audit_no_section_and_text_is_escaped(tmp_path: Path) -> None:
    assert audit_summary(None) is None and audit_html(None) == ""
    assert audit_summary({"failed": False}) is None  # not a report
    report = {"failed": False, "generated_at": "<b>", "total": {"missing": 0, "faults": {
        "duplicate": {"injected": 5, "stored": 0, "rejected": 0}}}, "stations": [{"thing": "a", "missing": 0}]}
    html = audit_html(audit_summary(report))
    assert 'data-status="ok" data-missing="0"' in html and "&lt;b&gt;" in html and "<b>" not in html
    assert "<tr><th>duplicate</th><td>5</td><td>0</td><td>0</td></tr>" in html
    assert '<section id="audit"' not in render({"stations": [], "lake": "x", "generated_at": "now"})
