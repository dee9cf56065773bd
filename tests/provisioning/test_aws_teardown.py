"""Unregister waits out DeleteConflictException on the policy (AWS: up to 5 minutes after the last detach;
moto deletes at once, so the refusal is injected), with a countdown and a fake clock; the phases that do not
depend on the policy still run, and a re-run finishes what is left."""

from __future__ import annotations

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
