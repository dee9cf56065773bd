"""docs/configuration.md's variable tables are the settings classes' fields (scripts/write_config_docs.py), and
.env.example lists every variable a settings class reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from scripts import write_config_docs
from scripts.settings_classes import declarations

REPO = Path(__file__).resolve().parents[2]
# Read by the settings but deliberately absent from .env.example: credentials are never kept in files (the AWS
# section of .env.example says so and names them).
SECRETS = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"})


def test_configuration_page_is_fresh() -> None:
    run = subprocess.run([sys.executable, "scripts/write_config_docs.py", "--check"], cwd=REPO, capture_output=True,
                         text=True)
    assert (run.returncode, run.stderr) == (0, ""), "docs/configuration.md is stale: run `make docs`"


def test_a_stale_table_is_reported_with_the_command(tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "configuration.md"
    page.write_text(write_config_docs.PAGE.read_text().replace("| `FLEET_COUNT` | `5` |", "| `FLEET_COUNT` | `6` |"))
    monkeypatch.setattr(write_config_docs, "PAGE", page)
    monkeypatch.setattr(write_config_docs, "REPO", tmp_path)
    assert write_config_docs.main(["--check"]) == 1
    assert write_config_docs.main([]) == 0
    assert "| `FLEET_COUNT` | `5` | Number of stations" in page.read_text()


def test_every_generated_table_names_each_field_with_a_description() -> None:
    text = write_config_docs.PAGE.read_text()
    names = re.findall(r"<!-- generated: (\w+) -->", text)
    assert names == ["FleetSettings", "BrokerLimits", "ImageSettings", "SwarmSettings", "StationSettings", "AwsSettings",
                     "PipelineSettings", "PipelineAwsSettings"]
    for block in re.findall(r"<!-- generated: \w+ -->\n(.*?)<!-- end generated -->", text, re.S):
        for row in block.splitlines()[2:]:
            assert not row.endswith("|  |"), f"no description: {row}"


def test_env_example_lists_every_variable() -> None:
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    missing = sorted(set(declarations()) - listed - SECRETS)
    assert missing == []
