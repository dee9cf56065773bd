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
    """Stop before creating anything if a planned thing name is already taken by a thing we do not own."""
    ours = {r.name for r in ctx.ledger.resources("thing")}
    taken = sorted({p.thing_name for p in planned} & existing_thing_names(ctx.clients) - ours)
    if taken:
        shown = ", ".join(taken[:5]) + (" ..." if len(taken) > 5 else "")
        raise RegistrationError(
            f"{len(taken)} thing name(s) already exist in the account and are not in this fleet's manifest "
            f"({shown}); choose another prefix (--prefix) (nothing was changed)")


def prepare_fleet(ctx: FleetContext, planned: list[PlannedThing], *, hello: bool) -> None:
    """Conflict check first (so a refusal changes nothing), then policy, type and group."""
    check_conflicts(ctx, planned)
    ensure_policy(ctx, ctx.policy_name, [ctx.settings.topic])
    if hello and ctx.hello_policy_name:
        ensure_policy(ctx, ctx.hello_policy_name, [HELLO_TOPIC])
    ensure_thing_type(ctx)
    ensure_thing_group(ctx)
