"""End to end on a real single-node swarm: `make swarm-up` with 10 stations, messages through the loopback relay,
secrets per service, a crash restarted and a finished station left down, rotation, replicas, `make swarm-down`.

The swarm is created by the test (and left again) unless the engine already is a manager; the stack, its
volumes and the test's own secret are removed whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from tests.support.compose_fleet import REPO
from tests.support.swarm_fleet import SwarmFleet, docker, service_inspect, tasks
from tests.support.swarm_fleet import short_data, swarm  # noqa: F401 - module fixtures

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(900)]

SCHEMA = json.loads((REPO / "contracts" / "weather-message.schema.json").read_text())
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
STATIONS = 10


@pytest.fixture(scope="module")
def unrelated_secret(swarm: bool) -> Iterator[str]:
    name = f"wf-test-unrelated-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "secret", "create", name, "-"], input="not ours", text=True, check=True,
                   capture_output=True, timeout=60)
    try:
        yield name
    finally:
        docker("secret", "rm", name, check=False)


@pytest.fixture(scope="module")
def fleet(swarm: bool, unrelated_secret: str, short_data: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwarmFleet]:
    f = SwarmFleet(tmp_path_factory.mktemp("swarm"), short_data, STATIONS)
    # A secret named like the stack's but without its label: swarm-down must leave it alone as well.
    subprocess.run(["docker", "secret", "create", f"{f.stack}-keep", "-"], input="x", text=True, check=True,
                   capture_output=True, timeout=60)
    try:
        with f.deployed():
            yield f
    finally:
        docker("secret", "rm", f"{f.stack}-keep", check=False)


@pytest.fixture(scope="module")
def run(fleet: SwarmFleet) -> dict[str, object]:
    """Subscribe with the monitor identity, crash station-1 mid-file, and wait until every station finished."""
    seen: dict[str, list[int]] = defaultdict(list)
    sub = fleet.subscribe()
    things = [f"weather-station-{i}" for i in range(1, STATIONS + 1)]
    try:
        assert sub.wait_for(lambda ps: {json.loads(p)["thing_name"] for p in ps} >= set(things), timeout=150), \
            f"messages only from {sorted({m['thing_name'] for m in sub.messages()})}"
        # Far enough into its file that a resume from the checkpoint cannot go back before the first message seen.
        assert sub.wait_for(lambda ps: sum(b'"weather-station-1"' in p for p in ps) >= 12, timeout=60)
        # Crash station-1 while it publishes: on-failure restarts it; it resumes from its checkpoint.
        crashed = next(t for t in tasks(fleet.service("station-1")) if t["state"] in ("running", "starting"))
        before_crash = max(m["seq"] for m in sub.messages() if m["thing_name"] == "weather-station-1")
        docker("kill", "--signal", "KILL", crashed["container"])
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            states = {t: [x["state"] for x in tasks(fleet.service(f"station-{i}"))] for i, t in enumerate(things, 1)}
            if all(s and all(x in ("complete", "failed", "shutdown") for x in s) and "complete" in s
                   for s in states.values()):
                break
            time.sleep(2)
        time.sleep(8)  # longer than the restart delay: a finished station would have been restarted by now
        messages = sub.messages()
    finally:
        sub.__exit__(None, None, None)
    for m in messages:
        seen[m["thing_name"]].append(m["seq"])
    return {"messages": messages, "seen": seen, "before_crash": before_crash, "crashed": crashed["id"]}


def test_every_station_sends_schema_valid_messages_with_increasing_seq(run: dict) -> None:
    seen: dict[str, list[int]] = run["seen"]  # type: ignore[assignment]
    assert sorted(seen) == sorted(f"weather-station-{i}" for i in range(1, STATIONS + 1))
    for m in run["messages"]:  # type: ignore[union-attr]
        errors = sorted(VALIDATOR.iter_errors(m), key=str)
        assert not errors, f"{m}: {errors[0].message}"
    for thing, seqs in seen.items():
        assert len(seqs) >= 3, thing
        if thing == "weather-station-1":  # resumed from its checkpoint after the crash: repeats, nothing new lower
            firsts = list(dict.fromkeys(seqs))
            assert firsts == sorted(firsts) and max(seqs) > run["before_crash"], seqs
        else:
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), thing


def test_a_crash_is_restarted_and_a_finished_station_is_not(fleet: SwarmFleet, run: dict) -> None:
    crashed = tasks(fleet.service("station-1"))
    assert len(crashed) >= 2 and any(t["id"] == run["crashed"] and t["state"] == "failed" for t in crashed)
    assert any(t["state"] == "complete" and t["exit"] == "0" for t in crashed), crashed
    for i in range(2, STATIONS + 1):
        ts = tasks(fleet.service(f"station-{i}"))
        assert [(t["state"], t["exit"]) for t in ts if t["state"] != "failed"] == [("complete", "0")], ts
    seqs = run["seen"]["weather-station-1"]  # type: ignore[index]
    assert max(seqs) > run["before_crash"]  # it went on after the restart


def test_each_station_service_holds_only_its_own_identity(fleet: SwarmFleet, run: dict) -> None:
    services = {s["Spec"]["Name"]: s for s in service_inspect(fleet.stack)}
    assert set(services) == {fleet.service("broker"), *(fleet.service(f"station-{i}") for i in range(1, 11))}
    ca_key = hashlib.sha256((fleet.fleet_dir / "ca" / "ca.key").read_bytes()).hexdigest()[:8]
    for name, svc in services.items():
        secrets = svc["Spec"]["TaskTemplate"]["ContainerSpec"].get("Secrets", [])
        names = [s["SecretName"] for s in secrets]
        assert not [n for n in names if n.endswith(ca_key) or "ca-key" in n], name
        if name == fleet.service("broker"):
            continue
        thing = f"weather-station-{name.rsplit('-', 1)[1]}"
        folder = fleet.fleet_dir / "things" / thing
        expected = {f"{fleet.stack}-{thing}-{kind}-{hashlib.sha256((folder / f).read_bytes()).hexdigest()[:8]}"
                    for kind, f in (("cert", "certificate.pem"), ("key", "private.key"))}
        ca = f"{fleet.stack}-fleet-ca-{hashlib.sha256((folder / 'ca.pem').read_bytes()).hexdigest()[:8]}"
        assert set(names) == expected | {ca}, name
        targets = {s["File"]["Name"]: s["File"]["Mode"] for s in secrets}
        assert targets == {"/identity/certificate.pem": 0o444, "/identity/private.key": 0o400,
                           "/identity/ca.pem": 0o444}
        assert svc["Spec"]["Mode"]["Replicated"]["Replicas"] == 1


def test_rotation_redeploys_with_new_secret_names_and_removes_the_old(fleet: SwarmFleet, run: dict) -> None:
    before = set(fleet.our_secrets())
    rotate = subprocess.run([sys.executable, "-m", "provisioning", "register", "--force", "--fleet-dir",
                             str(fleet.fleet_dir), "--data-dir", str(fleet.data_dir), "--count", str(STATIONS)],
                            cwd=REPO, env=fleet.env, capture_output=True, text=True, timeout=120)
    assert rotate.returncode == 0, rotate.stderr
    up = fleet.make("swarm-up", timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    after = set(fleet.our_secrets())
    key = fleet.fleet_dir / "things" / "weather-station-3" / "private.key"
    new_key = f"{fleet.stack}-weather-station-3-key-{hashlib.sha256(key.read_bytes()).hexdigest()[:8]}"
    assert new_key in after and new_key not in before
    assert len(after) == len(before) == 2 * STATIONS + 3  # cert+key per station, CA, broker cert+key
    assert not (before & after - {n for n in after if "-fleet-ca-" in n})  # every old version is gone
    svc = next(s for s in service_inspect(fleet.stack) if s["Spec"]["Name"] == fleet.service("station-3"))
    assert new_key in {s["SecretName"] for s in svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]}


def test_swarm_ps_flags_a_station_service_scaled_beyond_one(fleet: SwarmFleet, run: dict) -> None:
    ok = fleet.make("swarm-ps")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert fleet.service("station-10") in ok.stdout
    docker("service", "scale", "--detach", f"{fleet.service('station-2')}=2")
    bad = fleet.make("swarm-ps")
    assert bad.returncode != 0 and "replicas != 1" in bad.stdout and fleet.service("station-2") in bad.stdout
    again = fleet.make("swarm-up", timeout=600)  # a deploy resets every station service to one replica
    assert again.returncode == 0, again.stdout + again.stderr
    assert fleet.make("swarm-ps").returncode == 0


def test_swarm_down_removes_exactly_what_the_stack_created(fleet: SwarmFleet, unrelated_secret: str,
                                                           run: dict) -> None:
    down = fleet.make("swarm-down", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={fleet.stack}").split()
    assert not docker("network", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={fleet.stack}").split()
    assert not fleet.our_secrets()
    assert not docker("config", "ls", "-q", "--filter", f"label=com.weather-fleet.stack={fleet.stack}").split()
    assert not docker("ps", "-aq", "--filter", f"name={fleet.stack}-broker-relay").split()
    left = docker("secret", "ls", "--format", "{{.Name}}").split()
    assert unrelated_secret in left and f"{fleet.stack}-keep" in left
