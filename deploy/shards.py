"""Group-mode layout written by registration when STATIONS_PER_CONTAINER > 1 (contract: `fleetcore.shard`).

    <fleet>/shards/shard-<n>.json                the shard manifest of group container n (n from 1)
    <fleet>/shards/<n>/identities/<thing>/       hard links to things/<thing>/{certificate.pem,private.key,ca.pem}

The per-shard identity folder is what group container n mounts read-only at /identities: it holds its own
things' identities only (never the CA key, never another shard's key). Hard links, not symlinks, so a bind mount
sees the files; they share the inode, so mode 0600 and the owner (FLEET_UID) carry over. A re-registration that
replaced a key (new inode) re-links it; things that left the shard are removed.
"""

from __future__ import annotations

import os
from pathlib import Path

from fleetcore.identity import IDENTITY_FILES, THINGS_DIR
from fleetcore.shard import SHARDS_DIR, Shard, ShardThing, shard_file_name, split
from fleetcore.files import Writer
from fleetcore.manifest import Thing


def shards_dir(fleet_dir: Path) -> Path:
    return Path(fleet_dir) / SHARDS_DIR


def shard_identities(fleet_dir: Path, n: int) -> Path:
    return shards_dir(fleet_dir) / str(n) / "identities"


def plan_shards(stations: list[Thing], per_container: int) -> list[Shard]:
    things = [ShardThing(t.thing_name, t.isd_file or "", t.start_offset) for t in stations]
    return split(things, per_container)


def _link(source: Path, target: Path) -> bool:
    """Make `target` a hard link of `source`; False when it already is one."""
    try:
        if os.path.samefile(source, target):
            return False
    except FileNotFoundError:
        pass
    tmp = target.with_name(f".{target.name}.link")
    tmp.unlink(missing_ok=True)
    os.link(source, tmp)
    os.replace(tmp, target)
    return True


def write_shards(fleet_dir: Path, stations: list[Thing], per_container: int, w: Writer) -> int:
    """Write the shards and their identity folders (or remove them all when per_container is 1); the count."""
    root = shards_dir(fleet_dir)
    if per_container <= 1:
        w.remove_tree(root)
        return 0
    shards = plan_shards(stations, per_container)
    for shard in shards:
        w.write(root / shard_file_name(shard.shard), shard.to_json().encode())
        ids = shard_identities(fleet_dir, shard.shard)
        wanted = {t.thing_name for t in shard.things}
        if ids.is_dir():
            for old in ids.iterdir():
                if old.name not in wanted:
                    w.remove_tree(old)
        for t in shard.things:
            folder = ids / t.thing_name
            if w.dry_run:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for name in IDENTITY_FILES:
                source = Path(fleet_dir) / THINGS_DIR / t.thing_name / name
                if source.is_file() and _link(source, folder / name):
                    w.written.append(folder / name)
    if root.is_dir():
        keep = {shard_file_name(s.shard) for s in shards} | {str(s.shard) for s in shards}
        for old in root.iterdir():
            if old.name not in keep:
                if old.is_dir():
                    w.remove_tree(old)
                else:
                    w.remove_file(old)
    return len(shards)
