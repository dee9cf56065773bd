"""One station run in either hosting mode, for tests that must hold for both: `single` (`station run` with
THING_NAME / DATA_FILE) and `group` (the same station as the one thing of a shard, SHARD_FILE set).

`HostedStation.start(**variables)` starts `python -m station run`; `summary(process)` is the station's own summary
line's fields (not the group's), `checkpoint()` its checkpoint file's content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleetcore.shard import Shard, ShardThing
from tests.support.broker import TlsBroker
from tests.support.station import StationProcess, fields, station_environment

HOSTS = ("single", "group")
SUMMARY = r" INFO  summary "  # a station's summary line (a group's own is `group-summary`)


@dataclass
class HostedStation:
    host: str
    broker: TlsBroker
    thing: str
    data: Path
    tmp: Path

    @property
    def state_dir(self) -> Path:
        return self.tmp / "state"

    def environment(self, **extra: str) -> dict[str, str]:
        common = dict(TARGET="local", MQTT_HOST=self.broker.host, MQTT_PORT=str(self.broker.port),
                      STATE_DIR=str(self.state_dir), PROGRESS_INTERVAL="1", CONNECT_TIMEOUT="10")
        if self.host == "single":
            identity = self.broker.identity(self.thing)
            values = dict(common, THING_NAME=self.thing, IDENTITY_DIR=str(identity.directory),
                          DATA_FILE=str(self.data))
        else:
            ids = self.tmp / "ids"
            if not (ids / self.thing).is_dir():
                self.broker.ca.issue_client(self.thing, ids / self.thing)
            shard = self.tmp / "shard.json"
            shard.write_text(Shard(1, (ShardThing(self.thing, self.data.name, 0),)).to_json())
            values = dict(common, SHARD_FILE=str(shard), IDENTITIES_DIR=str(ids), DATA_DIR=str(self.data.parent),
                          CACHE_DIR=str(self.tmp / "cache"), CONNECT_RATE="50")
        values.update(extra)
        return station_environment(**values)

    def start(self, **extra: str) -> StationProcess:
        return StationProcess(self.environment(**extra))

    @property
    def checkpoint_file(self) -> Path:
        folder = self.state_dir if self.host == "single" else self.state_dir / self.thing
        return folder / f"{self.thing}.checkpoint.json"

    def checkpoint(self) -> dict[str, Any]:
        return json.loads(self.checkpoint_file.read_text())

    def summary(self, process: StationProcess) -> dict[str, str]:
        return fields(process.wait_line(SUMMARY))
