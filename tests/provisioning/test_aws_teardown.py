"""Unregister waits out DeleteConflictException on the policy (AWS: up to 5 minutes after the last detach;
moto deletes at once, so the refusal is injected), with a countdown and a fake clock; the phases that do not
depend on the policy still run, and a re-run finishes what is left."""

from __future__ import annotations

import json
from pathlib import Path

from botocore.exceptions import ClientError

from provisioning.aws import commands
from provisioning.aws.teardown import PolicyWait
from fleetcore.manifest import manifest_path
from tests.provisioning.aws_fixtures import args, aws_env, clients, iot, moto_endpoint  # noqa: F401


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class PolicyStillAttached:
    """The IoT client, except that DeletePolicy answers DeleteConflictException until `until` (fake time),
    as AWS does for up to 5 minutes after a detach
    (https://docs.aws.amazon.com/iot/latest/apireference/API_DeletePolicy.html: "DeleteConflictException")."""

    def __init__(self, iot, clock: FakeClock, until: float) -> None:
        self._iot, self._clock, self._until = iot, clock, until
        self.delete_policy_calls = 0

    def __getattr__(self, name):
        return getattr(self._iot, name)

    def delete_policy(self, **kwargs):
        self.delete_policy_calls += 1
        if self._clock() < self._until:
            raise ClientError({"Error": {"Code": "DeleteConflictException",
                                         "Message": "The policy cannot be deleted as the policy is attached"}},
                              "DeletePolicy")
        return self._iot.delete_policy(**kwargs)


def _register(fleet: Path) -> None:
    assert commands.register(args("register", "--count", "2", "--fleet-dir", str(fleet))) == 0


def test_policy_conflict_is_waited_out_for_minutes_with_a_countdown(aws_env, iot, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    _register(fleet)
    clock = FakeClock()
    c = clients()
    c.iot = PolicyStillAttached(c.iot, clock, until=clock() + 290)  # 4:50, inside AWS's 5 minutes
    lines: list[str] = []
    wait = PolicyWait(seconds=330, clock=clock, sleep=clock.sleep, out=lines.append)
    rc = commands.unregister(args("unregister", "--fleet-dir", str(fleet)), clients=c, policy_wait=wait)
    assert rc == 0
    assert sum(clock.slept) >= 290 and clock.now - 1000 < 330
    assert c.iot.delete_policy_calls > 5  # retried, not given up after a minute
    assert lines and all("DeleteConflictException" in ln for ln in lines)
    left = [ln.rsplit(", ", 1)[-1] for ln in lines]
    assert left[0].startswith("5:") and left[-1].startswith("0:")  # a countdown
    assert iot.list_policies()["policies"] == [] and not manifest_path(fleet).exists()


def test_other_phases_run_while_the_policy_waits_and_a_rerun_finishes(aws_env, iot, tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet"
    _register(fleet)
    clock = FakeClock()
    c = clients()
    c.iot = PolicyStillAttached(c.iot, clock, until=clock() + 10_000)  # longer than we wait
    wait = PolicyWait(seconds=330, clock=clock, sleep=clock.sleep, out=lambda _: None)
    rc = commands.unregister(args("unregister", "--fleet-dir", str(fleet)), clients=c, policy_wait=wait)
    assert rc == 1
    assert 330 <= sum(clock.slept) < 400
    # everything that does not depend on the policy is gone: things, certificates, group; the type deprecated
    assert iot.list_things()["things"] == [] and iot.list_certificates()["certificates"] == []
    assert iot.list_thing_groups()["thingGroups"] == []
    assert [p["policyName"] for p in iot.list_policies()["policies"]] == ["weather-fleet-station"]
    err = capsys.readouterr().err
    assert "policy weather-fleet-station" in err and "make unregister TARGET=aws" in err
    left = commands.load_state(fleet)
    assert {r.kind for r in left.aws_resources} <= {"policy", "thing_type"}

    clock.now += 10_000  # AWS let go of the policy
    assert commands.unregister(args("unregister", "--fleet-dir", str(fleet)), clients=c, policy_wait=wait) == 0
    assert iot.list_policies()["policies"] == [] and not manifest_path(fleet).exists()


class PolicyRefusedAsDocumented:
    """The IoT client, except that DeletePolicy refuses as AWS documents and moto does not: while the policy has a
    non-default version or any target (https://docs.aws.amazon.com/iot/latest/apireference/API_DeletePolicy.html:
    "detach the policy from all targets" and "delete all non-default versions of the policy"), then, after the
    last detach, for `delay` seconds of fake time (AWS: up to 5 minutes)."""

    def __init__(self, iot, clock: FakeClock, delay: float = 0.0) -> None:
        self._iot, self._clock, self._delay = iot, clock, delay
        self._free_since: float | None = None

    def __getattr__(self, name):
        return getattr(self._iot, name)

    def delete_policy(self, **kwargs):
        name = kwargs["policyName"]
        busy = (len(self._iot.list_policy_versions(policyName=name)["policyVersions"]) > 1
                or self._iot.list_targets_for_policy(policyName=name)["targets"])
        if not busy and self._free_since is None:
            self._free_since = self._clock()
        if busy or self._clock() < self._free_since + self._delay:
            raise ClientError({"Error": {"Code": "DeleteConflictException",
                                         "Message": "The policy cannot be deleted as the policy is attached"}},
                              "DeletePolicy")
        return self._iot.delete_policy(**kwargs)


def _orphan_certificate(iot, fleet: Path, name: str, *, ours: bool) -> str:
    """A certificate made from a CSR and attached to the fleet's policy, with no thing: what a failed bulk line
    leaves. `ours`: its key lies in the fleet's identity folders (the fleet made it), else another key."""
    from provisioning.aws.identity import csr_pem, key_pem, new_private_key, write_private

    key = new_private_key()
    if ours:
        write_private(fleet / "things" / name / "private.key", key_pem(key))
    cert = iot.create_certificate_from_csr(certificateSigningRequest=csr_pem(key, name), setAsActive=True)
    iot.attach_policy(policyName="weather-fleet-station", target=cert["certificateArn"])
    return cert["certificateArn"]


def test_a_version_and_a_fleet_orphan_certificate_are_removed_without_waiting(aws_env, iot, tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    _register(fleet)
    iot.create_policy_version(policyName="weather-fleet-station", policyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}),
        setAsDefault=False)
    orphan = _orphan_certificate(iot, fleet, "weather-station-9", ours=True)
    clock = FakeClock()
    c = clients()
    c.iot = PolicyRefusedAsDocumented(c.iot, clock)
    lines: list[str] = []
    wait = PolicyWait(seconds=330, clock=clock, sleep=clock.sleep, out=lines.append)
    rc = commands.unregister(args("unregister", "--fleet-dir", str(fleet)), clients=c, policy_wait=wait)
    assert rc == 0, lines
    assert clock.slept == []  # nothing was attached any more: no 5-minute wait
    assert iot.list_policies()["policies"] == []
    assert iot.describe_certificate(certificateId=orphan.rsplit("/", 1)[-1])["certificateDescription"][
        "status"] == "REVOKED"
    assert any("deleted non-default version(s) 2" in ln for ln in lines)
    assert any(orphan in ln and "detached and revoked 1 certificate(s)" in ln for ln in lines)


def test_a_foreign_target_is_reported_at_once_by_arn(aws_env, iot, tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet"
    _register(fleet)
    foreign = _orphan_certificate(iot, fleet, "someone-else", ours=False)
    clock = FakeClock()
    c = clients()
    c.iot = PolicyRefusedAsDocumented(c.iot, clock)
    wait = PolicyWait(seconds=330, clock=clock, sleep=clock.sleep, out=lambda _: None)
    rc = commands.unregister(args("unregister", "--fleet-dir", str(fleet)), clients=c, policy_wait=wait)
    assert rc == 1
    assert clock.slept == []  # no waiting: it will not go away by itself
    err = capsys.readouterr().err
    assert f"this fleet did not make: {foreign}" in err and "aws iot detach-policy" in err
    # the foreign certificate is left as it was
    assert iot.describe_certificate(certificateId=foreign.rsplit("/", 1)[-1])["certificateDescription"][
        "status"] == "ACTIVE"
    assert iot.list_targets_for_policy(policyName="weather-fleet-station")["targets"] == [foreign]
