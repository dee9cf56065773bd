"""`python -m deploy.chaos`: a bad scenario or a missing one is refused before any Docker call (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.chaos import cli


def test_a_bad_fleet_section_is_refused_one_line_per_problem(tmp_path: Path, capsys, monkeypatch) -> None:
    class NoDocker:
        def __getattr__(self, name: str):
            pytest.fail("no Docker call for a bad file")

    monkeypatch.setattr(cli, "Docker", NoDocker)
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\nfleet:\n  - {kind: pause, at: 1}\n  - {kind: nap, at: 2}\n")
    assert cli.main(["run", "--faults", str(bad), "--project", "p", "--state", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"deploy.chaos run: FAULTS={bad}: fleet[0]: pause needs seconds > 0",
                     f"deploy.chaos run: FAULTS={bad}: fleet[1].kind: Input should be 'broker_restart', 'kill', "
                     "'pause' or 'network_cut' (got 'nap')"]


def test_no_scenario_names_the_variable(tmp_path: Path, capsys) -> None:
    assert cli.main(["plan", "--project", "p"]) == 2
    assert capsys.readouterr().err.startswith("deploy.chaos plan: no scenario: give one with FAULTS=path")
