"""Writing identity files: atomic, private keys mode 0600, and only when the content changes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def write_if_changed(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> bool:
    """Atomically write `data` to `path` with `mode`; returns False (and touches nothing) when identical."""
    path = Path(path)
    if path.is_file() and path.read_bytes() == data:
        if (path.stat().st_mode & 0o777) != mode:
            os.chmod(path, mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def read_or_none(path: Path) -> bytes | None:
    path = Path(path)
    return path.read_bytes() if path.is_file() else None
