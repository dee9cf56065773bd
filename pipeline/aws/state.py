"""The record of what a deployment created, so `destroy` removes exactly that and nothing else.

The file (`PIPELINE_AWS_STATE`, default `.fleet/pipeline-aws.json`) names the account, region and stack it belongs
to and lists each resource as `{kind, name, created, ...}`: `created: false` marks something the stack uses but did
not make (a bucket you named), which `destroy` leaves alone. It is rewritten atomically after every change, so a
deployment that stops half-way still records what it made.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.aws.errors import StateError

STATE_VERSION = 1


@dataclass
class StackState:
    """What the stack owns in one account and region."""

    path: Path
    stack: str
    account_id: str
    region: str
    resources: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, *, stack: str, account_id: str, region: str) -> StackState:
        """Read the state file, or start an empty one; refuse a file that belongs to another stack."""
        if not path.exists():
            return cls(path=path, stack=stack, account_id=account_id, region=region)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            version, resources = data["version"], data["resources"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"{path}: unreadable pipeline state ({exc}); fix or remove the file") from exc
        if version != STATE_VERSION:
            raise StateError(f"{path}: state version {version} is not {STATE_VERSION}")
        recorded = (data.get("stack"), data.get("account_id"), data.get("region"))
        if recorded != (stack, account_id, region):
            raise StateError(
                f"{path} records stack {recorded[0]!r} in account {recorded[1]} region {recorded[2]}, "
                f"not {stack!r} in {account_id} {region}: set PIPELINE_AWS_STATE to another file, or "
                "AWS_REGION / PIPELINE_STACK_NAME / credentials to the ones recorded"
            )
        return cls(path=path, stack=stack, account_id=account_id, region=region, resources=list(resources))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        for record in self.resources:
            if record["kind"] == kind and record["name"] == name:
                return record
        return None

    def owns(self, kind: str, name: str) -> bool:
        record = self.get(kind, name)
        return bool(record and record.get("created"))

    def record(self, kind: str, name: str, *, created: bool, **details: Any) -> None:
        """Add or update one resource and save at once."""
        record = self.get(kind, name)
        if record is None:
            record = {"kind": kind, "name": name}
            self.resources.append(record)
        record["created"] = created
        record.update(details)
        self.save()

    def forget(self, kind: str, name: str) -> None:
        self.resources = [r for r in self.resources if not (r["kind"] == kind and r["name"] == name)]
        self.save()

    def save(self) -> None:
        """Write atomically; remove the file once the stack owns nothing."""
        if not self.resources:
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": STATE_VERSION,
            "stack": self.stack,
            "account_id": self.account_id,
            "region": self.region,
            "resources": self.resources,
        }
        fd, tmp = tempfile.mkstemp(prefix=".pipeline-aws-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
