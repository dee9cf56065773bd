"""The venv holding PyPI `isd` (gadomski/pyisd), the decoder's reference, installed from the lock.

Used by the differential test (tests/isd_decoder) and `make bench-parse`. It lives apart from the project's venv
because `isd` needs numpy<2 and pandas; its exact versions and hashes come from requirements/isd-reference.txt
(`make lock`). The venv is rebuilt when that file changes (its digest is kept in the venv).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".bench" / "isd-venv"
REQUIREMENTS = REPO / "requirements" / "isd-reference.txt"


def isd_python(venv: Path = VENV, timeout: float = 600) -> Path:
    """The venv's python, created (or rebuilt) from requirements/isd-reference.txt when needed.

    Raises OSError or subprocess.SubprocessError when the venv cannot be made (no registry, no venv module).
    """
    python = venv / "bin" / "python"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = venv / "requirements.sha256"
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"creating {venv} from {REQUIREMENTS.relative_to(REPO)} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps",
                    "-r", str(REQUIREMENTS)], check=True, capture_output=True, timeout=timeout)
    stamp.write_text(digest + "\n")
    return python
