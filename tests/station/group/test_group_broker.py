"""Group mode against the real Mosquitto container (mutual TLS, ACL): one `station run` process with a shard."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetcore.shard import Shard, ShardThing
from tests.station.group.support import write_isd
from tests.support.broker import TlsBroker
from tests.support.certs import TestCA
from tests.support.station import StationProcess, fields, monitor, station_environment

pytestmark = [pytest.mark.docker]
RECORDS = list(range(0, 20 * 30, 30))  # 20 records, 30 min apart


def group_env(broker: TlsBroker, tmp: Path, names: list[str], **extra: str) -> dict[str, str]:
    ids, data = tmp / "ids", tmp / "data"
    data.mkdir(exist_ok=True)
    write_isd(data / "723123-14886-2022", RECORDS)
    for name in names:
        if not (ids / name).is_dir():
            broker.ca.issue_client(name, ids / name)
    shard = tmp / "shard.json"
    shard.write_text(Shard(1, tuple(ShardThing(n, "723123-14886-2022", 0) for n in names)).to_json())
    values = dict(SHARD_FILE=str(shard), IDENTITIES_DIR=str(ids), DATA_DIR=str(data), STATE_DIR=str(tmp / "state"),
                  CACHE_DIR=str(tmp / "cache"), TARGET="local", MQTT_HOST=broker.host, MQTT_PORT=str(broker.port),
                  INTERVAL="0.05", PROGRESS_INTERVAL="1", CONNECT_TIMEOUT="5", CONNECT_RATE="200")
    values.update(extra)
    return station_environment(**values)


def seqs_by_thing(messages: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = collections.defaultdict(list)
    for m in messages:
        out[m["thing_name"]].append(m["seq"])
    return out


def test_group_publishes_every_seq_of_every_station(tls_broker: TlsBroker, tmp_path: Path) -> None:
    names = [f"grp-{i}" for i in range(1, 51)]
    env = group_env(tls_broker, tmp_path, names)
    with monitor(tls_broker, tmp_path) as sub:
        proc = StationProcess(env)
        assert proc.wait(90) == 0, proc.output
        assert sub.wait_count(len(names) * len(RECORDS), 20), sub.count()
    per = seqs_by_thing(sub.messages())
    assert set(per) == set(names)
    assert all(sorted(set(v)) == list(range(1, len(RECORDS) + 1)) for v in per.values())
    summary = fields(proc.wait_line(r"group-summary"))
    assert (summary["published"], summary["acknowledged"], summary["failed"]) == (str(50 * 20), str(50 * 20), "0")
    assert len([ln for ln in proc.lines if " summary " in ln and "thing=" in ln]) == len(names)
    assert "group-progress" in proc.output


def test_refused_certificate_fails_one_station_while_the_others_publish(tls_broker: TlsBroker,
                                                                        tmp_path: Path) -> None:
    names = [f"ref-{i}" for i in range(1, 11)]
    rogue_ca = TestCA(tmp_path / "rogue-ca", common_name="not the fleet CA")
    rogue = rogue_ca.issue_client("ref-4", tmp_path / "ids" / "ref-4", broker_ca=tls_broker.ca.ca_pem)
    assert rogue.certificate.is_file()
    env = group_env(tls_broker, tmp_path, names, INTERVAL="0.2", CONNECT_TIMEOUT="3")
    with monitor(tls_broker, tmp_path) as sub:
        proc = StationProcess(env)
        line = proc.wait_line(r"station-failed", 30)
        assert "ref-4" in line and "CONNECT_TIMEOUT" in line
        for _ in range(20):  # the status file follows within a moment
            health = subprocess.run([sys.executable, "-m", "station", "health"], env=env, capture_output=True,
                                    text=True, cwd=tmp_path)
            assert health.returncode == 0, health.stderr
            if "1 failed" in health.stdout:
                break
            time.sleep(0.2)
        assert "1 failed" in health.stdout, health.stdout
        assert proc.wait(90) == 0, proc.output
        assert sub.wait_count(9 * len(RECORDS), 20)
    per = seqs_by_thing(sub.messages())
    assert set(per) == set(names) - {"ref-4"}
    status = json.loads((tmp_path / "state" / "group.status.json").read_text())
    assert status["states"]["failed"] == 1 and status["states"]["finished"] == 9
    assert any(f.startswith("ref-4:") for f in status["failures"])


def test_kill_9_then_restart_resumes_every_station_without_a_gap(tls_broker: TlsBroker, tmp_path: Path) -> None:
    names = [f"kil-{i}" for i in range(1, 21)]
    env = group_env(tls_broker, tmp_path, names, INTERVAL="0.2", CHECKPOINT_INTERVAL="0.2")
    with monitor(tls_broker, tmp_path) as sub:
        proc = StationProcess(env)
        assert sub.wait_count(len(names) * 6, 30)
        proc.kill()
        sub.wait_quiet()  # the last messages the broker took before the kill, still on their way
        before = seqs_by_thing(sub.messages())
        assert all(len(v) < len(RECORDS) for v in before.values()), "killed mid-file"
        proc = StationProcess(env)
        assert proc.wait(90) == 0, proc.output
        assert sub.wait_for(lambda p: len(seqs_by_thing([json.loads(x) for x in p])) == len(names) and all(
            max(v) == len(RECORDS) for v in seqs_by_thing([json.loads(x) for x in p]).values()), 20)
    per = seqs_by_thing(sub.messages())
    resumed = 0
    for name in names:
        assert sorted(set(per[name])) == list(range(1, len(RECORDS) + 1)), name  # every seq, no gap
        summary = [ln for ln in proc.lines if f"thing={name} " in ln and " summary " in ln]
        first = int(fields(summary[0])["first_seq"])
        # from its own checkpoint: at most the seqs after its last acknowledged one are sent again, none skipped
        assert first <= max(before.get(name, [0])) + 1, (name, first, before.get(name))
        resumed += first > 1
    assert resumed >= len(names) // 2, f"only {resumed} stations resumed from a checkpoint"
