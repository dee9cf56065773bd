"""The shard contract: which things one group container runs (written by provisioning, read by the station).

`make register` with STATIONS_PER_CONTAINER=K > 1 writes `<FLEET_DIR>/shards/shard-<n>.json` (n from 1)::

    {"version": 1, "shard": n, "things": [
        {"thing_name": "weather-station-1", "data_file": "030910-99999-2022.gz", "start_offset": 0}, ...]}

Invariants: names, never host paths (`data_file` is a file name inside DATA_DIR; the identity folder of a thing is
`$IDENTITIES_DIR/<thing_name>/`); `start_offset` is the number of records (lines) skipped at the start of the first
pass, 0 unless the file is cycled; thing names are unique within a shard; shards are numbered from 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fleetcore.errors import ConfigError

SHARD_VERSION = 1
SHARDS_DIR = "shards"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


@dataclass(frozen=True)
class ShardThing:
    """One station of a shard."""

    thing_name: str
    data_file: str
    start_offset: int = 0


@dataclass(frozen=True)
class Shard:
    """One group container's things."""

    shard: int
    things: tuple[ShardThing, ...]

    def to_json(self) -> str:
        doc = {"version": SHARD_VERSION, "shard": self.shard,
               "things": [{"thing_name": t.thing_name, "data_file": t.data_file, "start_offset": t.start_offset}
                          for t in self.things]}
        return json.dumps(doc, indent=1) + "\n"


def shard_file_name(n: int) -> str:
    return f"shard-{n}.json"


def split(things: list[ShardThing], per_shard: int) -> list[Shard]:
    """Consecutive slices of `per_shard` things: shard 1 holds things 1..K, shard 2 K+1..2K, ..."""
    if per_shard < 1:
        raise ValueError("per_shard must be >= 1")
    return [Shard(shard=i // per_shard + 1, things=tuple(things[i:i + per_shard]))
            for i in range(0, len(things), per_shard)]


def parse(text: str, origin: str = "shard") -> Shard:
    """A Shard from its JSON text; ConfigError naming `origin` and the fault when it breaks the contract."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{origin}: not JSON ({exc}); run `make register` to rewrite the shards") from None
    problems: list[str] = []
    if not isinstance(doc, dict) or doc.get("version") != SHARD_VERSION:
        raise ConfigError(f"{origin}: not a version {SHARD_VERSION} shard; run `make register`")
    n = doc.get("shard")
    if not isinstance(n, int) or n < 1:
        problems.append(f"{origin}: 'shard' must be an integer >= 1, not {n!r}")
    things: list[ShardThing] = []
    seen: set[str] = set()
    raw = doc.get("things")
    if not isinstance(raw, list) or not raw:
        problems.append(f"{origin}: 'things' must be a non-empty list")
        raw = []
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            problems.append(f"{origin}: things[{i}] is not an object")
            continue
        name, data, offset = t.get("thing_name"), t.get("data_file"), t.get("start_offset", 0)
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{origin}: things[{i}].thing_name {name!r} is not a thing name")
        elif name in seen:
            problems.append(f"{origin}: thing {name} appears twice")
        if not isinstance(data, str) or not data or "/" in data or data in (".", ".."):
            problems.append(f"{origin}: things[{i}].data_file {data!r} must be a file name (no folder)")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            problems.append(f"{origin}: things[{i}].start_offset {offset!r} must be an integer >= 0")
        if isinstance(name, str):
            seen.add(name)
        things.append(ShardThing(str(name), str(data), offset if isinstance(offset, int) else 0))
    if problems:
        raise ConfigError("\n".join(problems))
    return Shard(shard=n, things=tuple(things))


def load(path: Path) -> Shard:
    """Read a shard file; ConfigError (naming SHARD_FILE) when it is missing or broken."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"shard file {path} (SHARD_FILE) cannot be read: {exc.strerror}; "
                          "run `make register` with STATIONS_PER_CONTAINER > 1") from None
    return parse(text, str(path))
