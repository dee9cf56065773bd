"""Writing fleet files (identities, deployment): atomic, private keys mode 0600, and only when the content changes.

`Writer` is the one writer registration and deployment share: it records what changed, and in dry-run mode
changes nothing but reports what would.
"""

from __future__ import annotations

import os
import shutil
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


class Writer:
    """Writes files unless `dry_run`; remembers what changed (`written`, `removed`)."""

    def __init__(self, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        self.written: list[Path] = []
        self.removed: list[Path] = []

    def write(self, path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
        if self.dry_run:
            if read_or_none(path) != data:
                self.written.append(path)
            return
        if write_if_changed(path, data, mode):
            self.written.append(path)

    def remove_file(self, path: Path) -> None:
        if path.is_file():
            self.removed.append(path)
            if not self.dry_run:
                path.unlink()

    def remove_tree(self, path: Path) -> None:
        if path.exists():
            self.removed.append(path)
            if not self.dry_run:
                shutil.rmtree(path)
