"""Unregister: delete exactly the resources the manifest lists, in the order AWS requires, and nothing else.

DeletePolicy's DeleteConflictException has three causes
(https://docs.aws.amazon.com/iot/latest/apireference/API_DeletePolicy.html: the policy must be detached from
every target and have no version but the default): non-default versions, a target still attached, or AWS's
delay of up to 5 minutes after the last detach. On the first conflict `PolicyWait` lists versions and targets,
deletes the non-default versions, detaches and revokes certificates this fleet made that the manifest no longer
lists (a failed bulk line makes and attaches a certificate but no thing; told by the fleet's own keys: every
certificate of this fleet comes from a CSR of a key in its identity folders), reports any other target at once
by ARN, and waits out the 5 minutes only when nothing is attached any more.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from provisioning.aws.direct import run_pool
from provisioning.aws.fleet import error_code
from provisioning.aws.identity import certificate_matches_key, load_private_key
from provisioning.aws.ledger import Ledger
from provisioning.aws.session import AwsClients
from fleetcore.manifest import THINGS_DIR, AwsResource, FleetManifest, ResourceKind

# AWS order: detach policy and thing principal, deactivate+delete certificate, delete thing, ..., and the policy
# last: after its last detach AWS may refuse DeletePolicy (DeleteConflictException) for up to 5 minutes, which is
# waited out only once everything else is gone.
TEARDOWN_ORDER = [ResourceKind.POLICY_ATTACHMENT, ResourceKind.PRINCIPAL_ATTACHMENT, ResourceKind.CERTIFICATE,
                  ResourceKind.THING, ResourceKind.THING_GROUP, ResourceKind.THING_TYPE, ResourceKind.BUCKET_OBJECT,
                  ResourceKind.POLICY]
# What each phase needs gone first; a phase whose prerequisite kept something is skipped (a re-run finishes it).
# The thing group, the parameters files and (once the things are gone) the thing type depend on nothing else.
DEPENDS_ON: dict[str, set[str]] = {
    "policy_attachment": set(), "principal_attachment": set(),
    "certificate": {"policy_attachment", "principal_attachment"}, "thing": {"principal_attachment"},
    "thing_group": set(), "thing_type": {"thing"}, "bucket_object": set(), "policy": {"policy_attachment"},
}
# DeletePolicy after a detach: AWS documents up to 5 minutes of DeleteConflictException; we wait a bit longer.
POLICY_DELETE_WAIT_SECONDS = 330.0
GONE = {"ResourceNotFoundException", "NoSuchKey", "NotFoundException"}
# Right after a detach AWS may still see the attachment for a few seconds (eventual consistency).
RETRY_CONFLICT = {"DeleteConflictException", "CertificateStateException"}


@dataclass
class TeardownResult:
    deleted: dict[str, int] = field(default_factory=dict)
    kept: list[tuple[AwsResource, str]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.kept

    @property
    def only_waiting_thing_types(self) -> bool:
        """Everything is gone but deprecated thing types AWS deletes only 5 minutes after deprecation."""
        return bool(self.kept) and all(r.kind == ResourceKind.THING_TYPE and "InvalidRequest" in why for r, why in self.kept)


def describe(r: AwsResource) -> str:
    if r.kind == ResourceKind.POLICY_ATTACHMENT:
        return f"detach policy {r.name} from certificate {r.extra.get('target', '?').rsplit('/', 1)[-1][:12]}…"
    if r.kind == ResourceKind.PRINCIPAL_ATTACHMENT:
        return f"detach certificate {r.extra.get('principal', '?').rsplit('/', 1)[-1][:12]}… from thing {r.name}"
    if r.kind == ResourceKind.CERTIFICATE:
        return f"deactivate and delete certificate {r.name}"
    if r.kind == ResourceKind.THING_TYPE:
        return f"deprecate and delete thing type {r.name}"
    if r.kind == ResourceKind.BUCKET_OBJECT:
        return f"delete s3://{r.extra.get('bucket')}/{r.name}"
    return f"delete {r.kind.replace('_', ' ')} {r.name}"


def ordered(manifest: FleetManifest) -> list[tuple[str, list[AwsResource]]]:
    """The manifest's resources grouped by phase, in deletion order (kinds we never delete are left out)."""
    return [(k, [r for r in manifest.aws_resources if r.kind == k]) for k in TEARDOWN_ORDER]


def plan_lines(manifest: FleetManifest) -> list[str]:
    lines = []
    for kind, items in ordered(manifest):
        if items:
            lines.append(f"{len(items):>6} x {describe(items[0]) if len(items) == 1 else kind.replace('_', ' ')}")
            if len(items) <= 3:
                lines.extend(f"         {describe(r)}" for r in items if len(items) > 1)
    return lines


def _retrying(call: Callable[[], object], attempts: int = 8, delay: float = 0.5) -> None:
    for i in range(attempts):
        try:
            call()
            return
        except ClientError as exc:
            if error_code(exc) in GONE:
                return
            if error_code(exc) in RETRY_CONFLICT and i < attempts - 1:
                time.sleep(delay * (2 ** i))
                continue
            raise


class PolicyInUse(Exception):
    """The policy is attached to targets this fleet did not make: it is theirs to detach, not ours."""


def fleet_keys(fleet_dir: Path) -> list:
    """The private keys of every identity folder of the fleet (things made, and lines that failed)."""
    keys = []
    for path in sorted((Path(fleet_dir) / THINGS_DIR).glob("*/private.key")):
        try:
            keys.append(load_private_key(path))
        except (OSError, ValueError):
            continue
    return keys


def made_by(keys: list) -> Callable[[object, str], bool]:
    """`ours(iot, certificate_arn)`: True when the certificate's public key is one of `keys`."""
    def ours(iot, arn: str) -> bool:
        if ":cert/" not in arn or not keys:
            return False
        try:
            pem = iot.describe_certificate(certificateId=arn.rsplit("/", 1)[-1])["certificateDescription"]
        except ClientError:
            return False
        return any(certificate_matches_key(pem["certificatePem"], key) for key in keys)
    return ours


@dataclass
class ConflictReport:
    versions_deleted: list[str] = field(default_factory=list)
    orphans_revoked: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def resolve_conflict(iot, name: str, ours: Callable[[object, str], bool]) -> ConflictReport:
    """Why DeletePolicy conflicts, and what of it is ours to fix: delete non-default versions, detach and revoke
    this fleet's orphan certificates; other targets are returned, not touched."""
    report = ConflictReport()
    for version in iot.list_policy_versions(policyName=name).get("policyVersions", []):
        if not version.get("isDefaultVersion"):
            _retrying(lambda v=version: iot.delete_policy_version(policyName=name, policyVersionId=v["versionId"]))
            report.versions_deleted.append(version["versionId"])
    targets: list[str] = []
    kwargs = {"policyName": name, "pageSize": 250}
    while True:
        page = iot.list_targets_for_policy(**kwargs)
        targets.extend(page.get("targets", []))
        if not page.get("nextMarker"):
            break
        kwargs["marker"] = page["nextMarker"]
    for target in targets:
        if not ours(iot, target):
            report.foreign.append(target)
            continue
        _retrying(lambda t=target: iot.detach_policy(policyName=name, target=t))
        _retrying(lambda t=target: iot.update_certificate(certificateId=t.rsplit("/", 1)[-1], newStatus="REVOKED"))
        report.orphans_revoked.append(target)
    return report


@dataclass
class PolicyWait:
    """How long DeletePolicy is retried on DeleteConflictException, with a countdown on `out`; the clock and
    sleep are injectable (tests use a fake clock)."""

    seconds: float = POLICY_DELETE_WAIT_SECONDS
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    out: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    step: float = 15.0
    ours: Callable[[object, str], bool] = field(default=lambda iot, arn: False)

    def delete(self, iot, name: str) -> None:
        deadline = self.clock() + self.seconds
        delay = 1.0
        resolved = False
        while True:
            try:
                iot.delete_policy(policyName=name)
                return
            except ClientError as exc:
                if error_code(exc) in GONE:
                    return
                if error_code(exc) != "DeleteConflictException":
                    raise
                if not resolved:  # the first conflict: find out why before waiting
                    resolved = True
                    report = resolve_conflict(iot, name, self.ours)
                    if report.versions_deleted:
                        self.out(f"  policy {name}: deleted non-default version(s) {', '.join(report.versions_deleted)}")
                    if report.orphans_revoked:
                        self.out(f"  policy {name}: detached and revoked {len(report.orphans_revoked)} certificate(s) "
                                 f"this fleet made but no longer lists: {', '.join(report.orphans_revoked)}")
                    if report.foreign:
                        raise PolicyInUse(
                            f"policy {name} is still attached to {len(report.foreign)} target(s) this fleet did not "
                            f"make: {', '.join(report.foreign)}; detach them (aws iot detach-policy --policy-name "
                            f"{name} --target <ARN>) and run `make unregister TARGET=aws` again") from exc
                    if report.versions_deleted or report.orphans_revoked:
                        continue  # try again at once: that may have been the whole conflict
                left = deadline - self.clock()
                if left <= 0:
                    raise
                m, sec = divmod(int(left + 0.5), 60)
                self.out(f"  policy {name}: AWS still sees it attached (DeleteConflictException; it may take up to "
                         f"5 minutes after the last detach): retrying, {m}:{sec:02d} left")
                self.sleep(min(delay, left))
                delay = min(delay * 2, self.step)


def delete_one(clients: AwsClients, r: AwsResource, policy_wait: PolicyWait | None = None) -> None:
    iot = clients.iot
    if r.kind == ResourceKind.POLICY_ATTACHMENT:
        _retrying(lambda: iot.detach_policy(policyName=r.name, target=r.extra["target"]))
    elif r.kind == ResourceKind.PRINCIPAL_ATTACHMENT:
        _retrying(lambda: iot.detach_thing_principal(thingName=r.name, principal=r.extra["principal"]))
    elif r.kind == ResourceKind.CERTIFICATE:
        _retrying(lambda: iot.update_certificate(certificateId=r.name, newStatus="INACTIVE"))
        _retrying(lambda: iot.delete_certificate(certificateId=r.name))
    elif r.kind == ResourceKind.THING:
        _retrying(lambda: iot.delete_thing(thingName=r.name))
    elif r.kind == ResourceKind.POLICY:
        (policy_wait or PolicyWait()).delete(iot, r.name)
    elif r.kind == ResourceKind.THING_GROUP:
        _retrying(lambda: iot.delete_thing_group(thingGroupName=r.name))
    elif r.kind == ResourceKind.THING_TYPE:
        _retrying(lambda: iot.deprecate_thing_type(thingTypeName=r.name, undoDeprecate=False))
        _retrying(lambda: iot.delete_thing_type(thingTypeName=r.name), attempts=1)
    elif r.kind == ResourceKind.BUCKET_OBJECT:
        _retrying(lambda: clients.s3.delete_object(Bucket=r.extra["bucket"], Key=r.name))
    else:  # pragma: no cover - kinds we never create
        raise ValueError(f"unknown resource kind {r.kind!r}")


def _remove_identity(fleet_dir: Path, name: str) -> None:
    things = (Path(fleet_dir) / THINGS_DIR).resolve()
    folder = (things / name).resolve()
    if folder.parent == things and folder.is_dir():
        shutil.rmtree(folder)


def unregister_fleet(clients: AwsClients, ledger: Ledger, concurrency: int,
                     policy_wait: PolicyWait | None = None) -> TeardownResult:
    """Delete phase by phase; a resource that fails stays in the manifest (with the reason) for a re-run.

    A phase starts only when the phases it depends on (DEPENDS_ON) fully succeeded, because AWS refuses to
    delete a certificate that is still attached, a thing that still has a principal, or a policy that is still
    attached; phases that depend on nothing that failed still run, so a re-run has only the rest to do.
    """
    result = TeardownResult()
    unfinished: set[str] = set()
    policy_wait = policy_wait or PolicyWait()
    policy_wait.ours = made_by(fleet_keys(ledger.fleet_dir))
    for kind, items in ordered(ledger.sync()):
        if not items:
            continue
        if DEPENDS_ON[kind] & unfinished:
            unfinished.add(kind)
            blocked = ", ".join(sorted(DEPENDS_ON[kind] & unfinished))
            result.kept.extend((r, f"waits for {blocked} (run `make unregister TARGET=aws` again)") for r in items)
            continue
        failures: list[tuple[AwsResource, str]] = []

        def work(r: AwsResource) -> None:
            try:
                delete_one(clients, r, policy_wait)
            except ClientError as exc:
                failures.append((r, f"{error_code(exc)}: {exc}"))
                return
            except PolicyInUse as exc:
                failures.append((r, str(exc)))
                return
            ledger.remove(r)
            if r.kind == ResourceKind.THING:
                ledger.drop_thing(r.name)
                _remove_identity(ledger.fleet_dir, r.name)

        run_pool(items, work, concurrency, f"unregister {kind.replace('_', ' ')}")
        result.deleted[kind] = len(items) - len(failures)
        if failures:
            result.kept.extend(failures)
            unfinished.add(kind)
    # identities of things never created in AWS (a run stopped before CreateThing) hold only a local key
    if result.complete:
        for t in ledger.things():
            ledger.drop_thing(t.thing_name)
            _remove_identity(ledger.fleet_dir, t.thing_name)
    ledger.save()
    return result
