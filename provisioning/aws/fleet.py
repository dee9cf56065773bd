"""Fleet-wide steps shared by direct and bulk registration: account, endpoint, policy, type, group, conflicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from provisioning.aws.assign import PlannedThing
from provisioning.aws.ledger import Ledger
from provisioning.aws.policy import HELLO_TOPIC, policy_document, policy_json
from provisioning.aws.session import AwsClients
from provisioning.aws.settings import AwsSettings
from provisioning.errors import ProvisioningError
from fleetcore.manifest import AwsResource

MANAGED_BY = "weather-fleet"


class RegistrationError(ProvisioningError):
    """Registration cannot go on; the message says what is recorded and which command continues or undoes it."""


def fleet_tags(prefix: str) -> list[dict[str, str]]:
    """Tags on every taggable resource we create (policies, thing types, thing groups, S3 objects)."""
    return [{"Key": "managed-by", "Value": MANAGED_BY}, {"Key": "weather-fleet:prefix", "Value": prefix}]


# A thing without a thing type may have at most 3 attributes, one with a type 50 (AWS IoT quotas,
# https://docs.aws.amazon.com/iot/latest/developerguide/thing-types.html and
# https://docs.aws.amazon.com/general/latest/gr/iot-core.html). IOT_THING_TYPE may be empty.
MAX_ATTRIBUTES_WITHOUT_TYPE = 3


def attribute_names(*, typed: bool) -> tuple[str, ...]:
    """The attributes each thing carries, in priority order: the fleet markers first (reconciliation and
    teardown find the fleet's things by `fleet`), then what it replays. Without a thing type the ISD file name
    is left out (the manifest has it; `station_id` names the station)."""
    names = ("managed_by", "fleet", "station_id", "isd_file")
    return names if typed else names[:MAX_ATTRIBUTES_WITHOUT_TYPE]


def thing_attributes(prefix: str, planned: PlannedThing, *, typed: bool = True) -> dict[str, str]:
    """Things cannot carry tags in AWS IoT; these attributes mark them instead (at most 3 when not `typed`)."""
    values = {"managed_by": MANAGED_BY, "fleet": prefix, "station_id": planned.station_id,
              "isd_file": planned.isd_file}
    return {k: values[k] for k in attribute_names(typed=typed) if values[k]}


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


@dataclass
class FleetContext:
    """What every per-thing step needs."""

    settings: AwsSettings
    clients: AwsClients
    ledger: Ledger
    fleet_dir: Path
    prefix: str
    account: str
    endpoint: str
    policy_name: str
    hello_policy_name: str | None = None
    created: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


def account_id(clients: AwsClients) -> str:
    return clients.sts.get_caller_identity()["Account"]


def data_ats_endpoint(clients: AwsClients) -> str:
    """The account's `iot:Data-ATS` host (what stations connect to, with the Amazon root CA)."""
    return clients.iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]


def ensure_policy(ctx: FleetContext, name: str, topics: list[str]) -> None:
    """Create the least-privilege policy once; refuse to adopt a same-named policy this fleet did not create."""
    iot = ctx.clients.iot
    document = policy_json(policy_document(ctx.clients.region, ctx.account, topics))
    if ctx.ledger.find("policy", name):
        return
    try:
        iot.get_policy(policyName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    else:
        raise RegistrationError(
            f"IoT policy {name!r} already exists in the account and is not in this fleet's manifest; "
            f"set IOT_POLICY_NAME to another name (nothing was changed)")
    resp = iot.create_policy(policyName=name, policyDocument=document, tags=fleet_tags(ctx.prefix))
    ctx.ledger.add(AwsResource(kind="policy", name=name, arn=resp["policyArn"]))
    ctx.count("policy")


def ensure_thing_type(ctx: FleetContext) -> None:
    """Use IOT_THING_TYPE; create it (and own it) only if it does not exist yet."""
    name = ctx.settings.thing_type
    if not name:
        return
    iot = ctx.clients.iot
    if ctx.ledger.find("thing_type", name):
        # ours, possibly deprecated by an unregister that could not delete it yet (AWS waits 5 minutes)
        if iot.describe_thing_type(thingTypeName=name).get("thingTypeMetadata", {}).get("deprecated"):
            iot.deprecate_thing_type(thingTypeName=name, undoDeprecate=True)
        return
    try:
        iot.describe_thing_type(thingTypeName=name)
        return  # someone else's (or shared): used, never recorded, never deleted
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    resp = iot.create_thing_type(thingTypeName=name, tags=fleet_tags(ctx.prefix),
                                 thingTypeProperties={"thingTypeDescription": "weather-fleet station",
                                                      "searchableAttributes": ["station_id", "fleet"]})
    ctx.ledger.add(AwsResource(kind="thing_type", name=name, arn=resp["thingTypeArn"]))
    ctx.count("thing_type")


def ensure_thing_group(ctx: FleetContext) -> None:
    """Use IOT_THING_GROUP; create it (and own it) only if it does not exist yet."""
    name = ctx.settings.thing_group
    if not name or ctx.ledger.find("thing_group", name):
        return
    iot = ctx.clients.iot
    try:
        iot.describe_thing_group(thingGroupName=name)
        return
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
    resp = iot.create_thing_group(thingGroupName=name, tags=fleet_tags(ctx.prefix),
                                  thingGroupProperties={"thingGroupDescription": "weather-fleet stations"})
    ctx.ledger.add(AwsResource(kind="thing_group", name=name, arn=resp["thingGroupArn"]))
    ctx.count("thing_group")


def existing_thing_names(clients: AwsClients) -> set[str]:
    names: set[str] = set()
    for page in clients.iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 250}):
        names.update(t["thingName"] for t in page.get("things", []))
    return names


def check_conflicts(ctx: FleetContext, planned: list[PlannedThing]) -> None:
    """Stop before creating anything if a planned thing name is already taken by a thing we do not own. A thing
    whose attributes say this fleet made it (managed_by, fleet: a run stopped before recording it, or a thing
    ListThings' index did not show yet) is adopted first, not called foreign."""
    ours = {r.name for r in ctx.ledger.resources("thing")}
    taken = sorted({p.thing_name for p in planned} & existing_thing_names(ctx.clients) - ours)
    if taken and adopt(ctx, marked_as_ours(ctx, taken)):
        ctx.ledger.save()
        ours = {r.name for r in ctx.ledger.resources("thing")}
        taken = [name for name in taken if name not in ours]
    if taken:
        shown = ", ".join(taken[:5]) + (" ..." if len(taken) > 5 else "")
        raise RegistrationError(
            f"{len(taken)} thing name(s) already exist in the account and are not in this fleet's manifest "
            f"({shown}); choose another prefix (--prefix) (nothing was changed)")


def fleet_thing_names(ctx: FleetContext) -> dict[str, str]:
    """{name: ARN} of every thing carrying this fleet's `fleet=<prefix>` attribute (ListThings filter)."""
    found: dict[str, str] = {}
    kwargs = {"attributeName": "fleet", "attributeValue": ctx.prefix, "maxResults": 250}
    while True:
        page = ctx.clients.iot.list_things(**kwargs)
        found.update({t["thingName"]: t.get("thingArn", "") for t in page.get("things", [])})
        if not page.get("nextToken"):
            return found
        kwargs["nextToken"] = page["nextToken"]


def reconcile(ctx: FleetContext, names: list[str]) -> list[str]:
    """Adopt things of `names` (lines of a task that did not succeed) that exist anyway: a failed line may have
    created its thing (and certificate, attachments) before failing. Each is recorded with what is attached to
    it, so `unregister` removes it and the next `register` neither refuses the name nor creates it twice.
    Returns the adopted names."""
    wanted = {n for n in names if not ctx.ledger.find("thing", n)}
    if not wanted:
        return []
    found = {name: arn for name, arn in fleet_thing_names(ctx).items() if name in wanted}
    # the fleet index behind ListThings' attribute filter lags; DescribeThing does not: ask it for the rest
    found.update(marked_as_ours(ctx, sorted(wanted - set(found))))
    adopted = adopt(ctx, found)
    adopted_certificates = adopt_orphan_certificates(ctx, sorted(wanted - set(adopted)))
    ctx.ledger.save()
    return adopted + [n for n in adopted_certificates if n not in adopted]


def marked_as_ours(ctx: FleetContext, names: list[str]) -> dict[str, str]:
    """{name: ARN} of the things of `names` whose attributes say this fleet made them (managed_by, fleet)."""
    out: dict[str, str] = {}
    for name in names:
        try:
            thing = ctx.clients.iot.describe_thing(thingName=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue
            raise
        attributes = thing.get("attributes", {})
        if attributes.get("managed_by") == MANAGED_BY and attributes.get("fleet") == ctx.prefix:
            out[name] = thing.get("thingArn", "")
    return out


def adopt(ctx: FleetContext, things: dict[str, str]) -> list[str]:
    """Record `things` ({name: ARN}, this fleet's) with their certificates and attachments; returns the names."""
    iot, adopted = ctx.clients.iot, []
    for name, arn in sorted(things.items()):
        ctx.ledger.add(AwsResource(kind="thing", name=name, arn=arn or None, extra={"thing": name}))
        ctx.count("thing")
        adopted.append(name)
        for principal in iot.list_thing_principals(thingName=name).get("principals", []):
            if ":cert/" not in principal:
                continue
            cert_id = principal.rsplit("/", 1)[-1]
            ctx.ledger.add(AwsResource(kind="certificate", name=cert_id, arn=principal, extra={"thing": name}))
            ctx.ledger.add(AwsResource(kind="principal_attachment", name=name,
                                       extra={"thing": name, "principal": principal}))
            for policy in iot.list_attached_policies(target=principal).get("policies", []):
                if policy["policyName"] in {ctx.policy_name, ctx.hello_policy_name}:
                    ctx.ledger.add(AwsResource(kind="policy_attachment", name=policy["policyName"],
                                               extra={"thing": name, "target": principal}))
    return adopted


def adopt_orphan_certificates(ctx: FleetContext, names: list[str]) -> list[str]:
    """A failed bulk line may create and attach its certificate but no thing. Find such certificates among the
    policy's targets by the line's own key (every certificate of this fleet comes from a CSR of a key in its
    identity folder) and record them, so `unregister` detaches and deletes them. Returns the lines' names."""
    from provisioning.aws.identity import certificate_matches_key, load_private_key
    from fleetcore.manifest import THINGS_DIR

    keys = {}
    for name in names:
        path = Path(ctx.fleet_dir) / THINGS_DIR / name / "private.key"
        if path.is_file():
            keys[name] = load_private_key(path)
    if not keys:
        return []
    iot, known = ctx.clients.iot, {r.arn for r in ctx.ledger.resources("certificate")}
    targets, kwargs = [], {"policyName": ctx.policy_name, "pageSize": 250}
    while True:
        page = iot.list_targets_for_policy(**kwargs)
        targets.extend(t for t in page.get("targets", []) if ":cert/" in t and t not in known)
        if not page.get("nextMarker"):
            break
        kwargs["marker"] = page["nextMarker"]
    adopted = []
    for target in targets:
        cert_id = target.rsplit("/", 1)[-1]
        pem = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["certificatePem"]
        owner = next((n for n, key in keys.items() if certificate_matches_key(pem, key)), None)
        if owner is None:
            continue
        ctx.ledger.add(AwsResource(kind="certificate", name=cert_id, arn=target, extra={"thing": owner}))
        ctx.ledger.add(AwsResource(kind="policy_attachment", name=ctx.policy_name,
                                   extra={"thing": owner, "target": target}))
        ctx.count("certificate")
        adopted.append(owner)
    return adopted



def prepare_fleet(ctx: FleetContext, planned: list[PlannedThing], *, hello: bool) -> None:
    """Conflict check first (so a refusal changes nothing), then policy, type and group."""
    check_conflicts(ctx, planned)
    ensure_policy(ctx, ctx.policy_name, [ctx.settings.topic])
    if hello and ctx.hello_policy_name:
        ensure_policy(ctx, ctx.hello_policy_name, [HELLO_TOPIC])
    ensure_thing_type(ctx)
    ensure_thing_group(ctx)
