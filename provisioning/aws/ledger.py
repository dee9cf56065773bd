"""Record every AWS resource the moment it exists: the manifest plus an append-only journal.

Saving a 1,000-thing manifest after each of ~5,000 API calls would dominate the run, so each created
resource is appended to `aws-journal.jsonl` (one flushed line) and the manifest is rewritten at most once a
second and at the end (also when an error stops the run). `load_state` replays the journal over the
manifest, so even a killed run leaves a record from which `unregister` removes everything it made.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from fleetcore.manifest import AwsResource, FleetManifest, Thing, load_manifest, manifest_path, save_manifest

JOURNAL_NAME = "aws-journal.jsonl"


def journal_path(fleet_dir: Path) -> Path:
    return Path(fleet_dir) / JOURNAL_NAME


def resource_key(r: AwsResource) -> tuple:
    return (r.kind, r.name, tuple(sorted(r.extra.items())))


def _apply(manifest: FleetManifest, entry: dict) -> None:
    op = entry["op"]
    if op == "add":
        res = AwsResource.model_validate(entry["resource"])
        if resource_key(res) not in {resource_key(r) for r in manifest.aws_resources}:
            manifest.aws_resources.append(res)
    elif op == "remove":
        key = resource_key(AwsResource.model_validate(entry["resource"]))
        manifest.aws_resources = [r for r in manifest.aws_resources if resource_key(r) != key]
    elif op == "thing":
        thing = Thing.model_validate(entry["thing"])
        manifest.things = [t for t in manifest.things if t.thing_name != thing.thing_name] + [thing]
    elif op == "drop_thing":
        manifest.things = [t for t in manifest.things if t.thing_name != entry["thing_name"]]


def load_state(fleet_dir: Path) -> FleetManifest:
    """The manifest with any journal entries not yet saved into it (FleetStateError without a manifest)."""
    manifest = load_manifest(fleet_dir)
    jp = journal_path(fleet_dir)
    if jp.is_file():
        for line in jp.read_text().splitlines():
            if line.strip():
                try:
                    _apply(manifest, json.loads(line))
                except (ValueError, KeyError):
                    break  # a torn last line from a killed process
    return manifest


class Ledger:
    """Thread-safe recorder of a fleet's state; `save()` makes the manifest complete and empties the journal.

    Resources and things are held in dicts (constant-time lookups for 1,000s of things) and copied into
    `manifest` on every save.
    """

    def __init__(self, fleet_dir: Path, manifest: FleetManifest, save_interval: float = 1.0) -> None:
        self.fleet_dir = Path(fleet_dir)
        self.manifest = manifest
        self.save_interval = save_interval
        self._lock = threading.RLock()
        self._last_save = 0.0
        self._journal = None
        self._res: dict[tuple, AwsResource] = {resource_key(r): r for r in manifest.aws_resources}
        self._things: dict[str, Thing] = {t.thing_name: t for t in manifest.things}
        self._by_name: dict[tuple[str, str], AwsResource] = {}
        self._by_thing: dict[tuple[str, str], list[AwsResource]] = {}
        for r in self._res.values():
            self._index(r)
        self.save()

    def _index(self, r: AwsResource) -> None:
        self._by_name[(r.kind, r.name)] = r
        if "thing" in r.extra:
            self._by_thing.setdefault((r.kind, r.extra["thing"]), []).append(r)

    def _unindex(self, r: AwsResource) -> None:
        if self._by_name.get((r.kind, r.name)) is r:
            del self._by_name[(r.kind, r.name)]
            for other in self._res.values():  # another resource of that kind and name (rare)
                if other.kind == r.kind and other.name == r.name:
                    self._by_name[(r.kind, r.name)] = other
        if "thing" in r.extra:
            lst = self._by_thing.get((r.kind, r.extra["thing"]), [])
            if r in lst:
                lst.remove(r)

    # -- recording ---------------------------------------------------------------------------------------
    def _log(self, entry: dict) -> None:
        if self._journal is None:
            self._journal = open(journal_path(self.fleet_dir), "a", encoding="utf-8")
        self._journal.write(json.dumps(entry) + "\n")
        self._journal.flush()

    def add(self, resource: AwsResource) -> AwsResource:
        with self._lock:
            key = resource_key(resource)
            if key not in self._res:
                self._res[key] = resource
                self._index(resource)
                self._log({"op": "add", "resource": resource.model_dump()})
            self._maybe_save()
            return self._res[key]

    def remove(self, resource: AwsResource) -> None:
        with self._lock:
            old = self._res.pop(resource_key(resource), None)
            if old is not None:
                self._unindex(old)
            self._log({"op": "remove", "resource": resource.model_dump()})
            self._maybe_save()

    def put_thing(self, thing: Thing) -> None:
        with self._lock:
            self._things.pop(thing.thing_name, None)
            self._things[thing.thing_name] = thing
            self._log({"op": "thing", "thing": thing.model_dump()})
            self._maybe_save()

    def drop_thing(self, name: str) -> None:
        with self._lock:
            if self._things.pop(name, None) is not None:
                self._log({"op": "drop_thing", "thing_name": name})
            self._maybe_save()

    # -- queries -----------------------------------------------------------------------------------------
    def find(self, kind: str, name: str) -> AwsResource | None:
        with self._lock:
            return self._by_name.get((kind, name))

    def for_thing(self, kind: str, thing: str) -> list[AwsResource]:
        """Resources of `kind` recorded for `thing`, oldest first."""
        with self._lock:
            return list(self._by_thing.get((kind, thing), []))

    def resources(self, kind: str | None = None) -> list[AwsResource]:
        with self._lock:
            return [r for r in self._res.values() if kind is None or r.kind == kind]

    def thing(self, name: str) -> Thing | None:
        with self._lock:
            return self._things.get(name)

    def things(self) -> list[Thing]:
        with self._lock:
            return list(self._things.values())

    # -- persistence -------------------------------------------------------------------------------------
    def _maybe_save(self) -> None:
        if time.monotonic() - self._last_save >= self.save_interval:
            self.save()

    def sync(self) -> FleetManifest:
        """Copy the recorded state into `manifest` (done by every save)."""
        with self._lock:
            self.manifest.aws_resources = list(self._res.values())
            self.manifest.things = list(self._things.values())
            return self.manifest

    def sort_things(self, names: list[str]) -> None:
        """Order things as `names` (the plan), others after."""
        rank = {n: i for i, n in enumerate(names)}
        with self._lock:
            self._things = dict(sorted(self._things.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def save(self) -> Path:
        """Write the whole manifest atomically, then empty the journal (everything is in the manifest now)."""
        with self._lock:
            path = save_manifest(self.fleet_dir, self.sync())
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            jp = journal_path(self.fleet_dir)
            if jp.exists():
                os.remove(jp)
            self._last_save = time.monotonic()
            return path

    def close(self) -> None:
        self.save()

    def delete_files(self) -> None:
        """Remove manifest and journal (after a complete teardown)."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            for p in (journal_path(self.fleet_dir), manifest_path(self.fleet_dir)):
                if p.exists():
                    os.remove(p)
