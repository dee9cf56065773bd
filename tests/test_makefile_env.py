"""The Makefile is a front door: it neither reads `.env` nor holds logic (each target runs one command; the
`.env` layering and the pacing rule live in `deploy.compose`, tested in tests/deploy/test_compose_front.py), and
every target name users and docs know still exists."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAKEFILE = REPO / "Makefile"
# Targets of the Makefile before it became thin (issue 19): each must still work.
KNOWN_TARGETS = (
    "help venv lock lock-check data stations register images up broker-reload logs ps watch down clean "
    "bench-register-local bench-density bench-fleet-scale swarm-images swarm-up swarm-down swarm-ps "
    "bench-swarm-nodes unregister aws-preflight plan-aws cost aws-doctor bench-register lake lake-up lake-down "
    "cold query dashboard bench-lake pipeline pipeline-down pipeline-status pipeline-crawl pipeline-flatten "
    "schemas test test-quick bench-publish bench-parse bench docs chaos collect-state audit metrics-up metrics-down "
    "metrics-config dashboard-live").split()
# Recipes that are not a CLI call: the venv's creation (exactly as `make venv` always did) and `help` / `bench`.
NOT_A_CLI = {"$(PY)", "help", ".env", "bench"}


def recipes() -> dict[str, list[str]]:
    """target -> its recipe lines (continuations joined)."""
    found: dict[str, list[str]] = {}
    current: str | None = None
    text = MAKEFILE.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            found[current].append(line.strip())
        elif m := re.match(r"^([A-Za-z0-9_.$()%-]+):(?!=)", line):
            current = m.group(1)
            found.setdefault(current, [])
        elif line.strip() and not line.startswith("#"):
            current = None
    return found


def test_every_known_target_still_exists_and_help_lists_the_documented_ones() -> None:
    targets = set(recipes())
    assert [t for t in KNOWN_TARGETS if t not in targets] == []
    out = subprocess.run(["make", "-s", "-f", str(MAKEFILE), "help"], cwd=REPO, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert {"register", "up", "swarm-up", "watch", "clean", "lake-up", "bench-publish", "help"} <= listed


def test_each_target_runs_one_command_and_the_makefile_stays_small() -> None:
    long = {t: lines for t, lines in recipes().items() if len(lines) > 1 and t not in NOT_A_CLI}
    assert long == {}
    assert len(MAKEFILE.read_text().splitlines()) <= 180  # 330 before issue 19, with fewer targets
    for target in ("up", "down", "ps", "logs", "clean", "register", "swarm-up", "lake-up", "broker-reload"):
        assert recipes()[target][0].startswith("$(PY) -m "), target


def test_the_recipes_see_the_environment_not_dotenv(tmp_path: Path) -> None:
    """Nothing of `.env` is exported by make (the CLIs read it themselves, under the environment): a `.env` value
    that make used to export (and that leaked into the tests' own fleets) is not in a recipe's environment."""
    (tmp_path / ".env").write_text("SPEEDUP=3600\nTOPIC=a/b\nMONITOR_IDENTITY_DIR=/elsewhere\n")
    (tmp_path / "seen.mk").write_text("seen:\n\t@env\n")
    base = {k: v for k, v in os.environ.items() if k not in ("SPEEDUP", "TOPIC", "MAKEFLAGS", "MONITOR_IDENTITY_DIR")}
    out = subprocess.run(["make", "-s", "-f", str(MAKEFILE), "-f", "seen.mk", "seen"], cwd=tmp_path,
                         env={**base, "TOPIC": "c/d", "BASE_IMAGE": "local/x"}, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for name in ("MONITOR_IDENTITY_DIR", "FLEET_GROUPS", "FLEET_SIZE", "FLEET_DIR", "PY", "SPEEDUP"):
        assert name not in seen, name
    assert seen["TOPIC"] == "c/d" and seen["BASE_IMAGE"] == "local/x"
