"""Real headless Chromium for page tests (flags of RULES: headless, no sandbox, no GPU, no QUIC, a fresh profile)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def chromium() -> str | None:
    """The Chromium binary (env CHROMIUM first), or None."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def run_chromium(binary: str, url: str, profile: Path, *extra: str, budget_ms: int = 5000) -> str:
    """Load `url`, let its timers and fetches run for `budget_ms` of virtual time, return stdout (e.g. the DOM)."""
    proc = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *extra, url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
