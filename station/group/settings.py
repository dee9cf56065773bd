"""Group mode's configuration: every station variable applies to every station of the group, plus the shard.

SHARD_FILE set means group mode (`station run` hosts every thing of the shard). Per thing: identity folder
`$IDENTITIES_DIR/<thing>/`, data file `$DATA_DIR/<data_file>`, state `$STATE_DIR/<thing>/`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from fleetcore.aws_limits import IOT_CONNECTS_PER_SECOND_PER_ACCOUNT as AWS_CONNECTS_PER_SECOND
from fleetcore.setting_groups import DataFolder
from fleetcore.target import Target
from station.settings import ReplayFields

DEFAULT_CONNECT_RATE = 100.0
SHARD_VARIABLE = "SHARD_FILE"


def group_mode() -> bool:
    """True when this process runs a shard (SHARD_FILE is set and not empty)."""
    return bool(os.environ.get(SHARD_VARIABLE, "").strip())


class GroupSettings(ReplayFields, DataFolder):
    """Every station's replay fields (`station.settings.ReplayFields`, declared there once) and DATA_DIR (the
    fleet's, `fleetcore.setting_groups.DataFolder`: containers set /data); the per-thing ones (thing name,
    identity, data file, start offset) come from the shard."""

    shard_file: Path = Field(description="Shard manifest: the things this container runs (group mode).")
    identities_dir: Path = Field(Path("/identities"), description="Holds one identity folder per thing.")
    cache_dir: Path | None = Field(None, description="Shared message cache (default STATE_DIR/.cache).")
    connect_rate: float | None = Field(None, gt=0, description="New connections per second of this container, "
                                       "with jitter (default 100; on aws at most 500 / FLEET_GROUPS: IoT Core's "
                                       "account limit shared by every group).")
    fleet_groups: int = Field(1, ge=1, description="Group containers of the fleet (compose sets it): on aws they "
                              "share the account's 500 connects/s.")

    @property
    def effective_cache_dir(self) -> Path:
        return self.cache_dir if self.cache_dir is not None else self.state_dir / ".cache"

    @property
    def effective_connect_rate(self) -> float:
        rate = self.connect_rate if self.connect_rate is not None else DEFAULT_CONNECT_RATE
        return min(rate, AWS_CONNECTS_PER_SECOND / self.fleet_groups) if self.target == Target.AWS else rate
