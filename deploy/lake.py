"""The lake folder's ownership: one rule for `make lake-up` (compose) and `make swarm-up PIPELINE=1`.

The lake writer runs as the owner of the monitor's private key (so it reads it without any privilege) and
never as root. The lake folder is created if missing; when you are root, it is handed (recursively) to that
owner, who must write it.
"""

from __future__ import annotations

import os
from pathlib import Path

from deploy.errors import ConfigError
from fleetcore.identity import PRIVATE_KEY_FILE


def lake_owner(lake_dir: Path, monitor_dir: Path) -> tuple[int, int]:
    """(uid, gid) the lake writer runs as; the lake folder exists and belongs to it when you are root."""
    key = Path(monitor_dir) / PRIVATE_KEY_FILE
    try:
        st = key.stat()
    except FileNotFoundError:
        raise ConfigError(f"no monitor identity at {monitor_dir}: run `make register`") from None
    owner = (st.st_uid, st.st_gid)
    if owner[0] == 0:
        raise ConfigError(f"{key} belongs to root and the lake writer never runs as root: run `make register` "
                          f"(as root it hands the identity to FLEET_UID)")
    lake_dir = Path(lake_dir)
    lake_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for path in [lake_dir, *lake_dir.rglob("*")]:
            st = path.lstat()
            if (st.st_uid, st.st_gid) != owner:
                os.lchown(path, *owner)
    return owner


def last_run(lake_dir: Path) -> Path | None:
    """The newest final-counts record the lake writer left in LAKE_DIR/_runs/ (None: none yet)."""
    runs = sorted(Path(lake_dir).glob("_runs/*.json"))
    return runs[-1] if runs else None
