"""The one way a bench script ends: its markdown report written to bench-results/ and printed."""

from __future__ import annotations

import sys
from pathlib import Path


def write_report(path: Path, lines: list[str]) -> int:
    """Write `lines` (one markdown line each) to `path`, making its folder, print them, and return 0 (the exit
    code of a bench that measured)."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text, end="")
    print(f"wrote {path}", file=sys.stderr)
    return 0
