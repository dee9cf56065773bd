"""Deploy, inspect and destroy the pipeline stack: plan from what exists, apply, record in the state file.

Deploy reads every resource first and refuses to start if one of the stack's names is taken by something the
state file does not record (nothing is created in that case). Then it creates what is missing, updates what
drifted and leaves the rest untouched, so a second deploy makes no changing call. Destroy deletes, in reverse
order, only what the state file says the stack created.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fleetcore.aws_errors import botocore_line, explain
from pipeline.aws.athena import execute
from pipeline.aws.errors import AccessError, ConflictError, PipelineAwsError
from pipeline.aws.names import StackNames
from pipeline.aws.policies import (
    crawler_policy, crawler_trust, firehose_policy, firehose_trust, iot_rules_policy, iot_rules_trust,
)
from pipeline.aws.resources import (
    Bucket,
    ColdReadingsTable,
    Crawler,
    DeliveryStream,
    GlueDatabase,
    NamedQuery,
    Resource,
    Role,
    TopicRule,
    Workgroup,
)
from pipeline.aws.session import AwsClients, connect
from pipeline.aws.settings import PipelineAwsSettings
from pipeline.aws.state import StackState
from pipeline.queries import QUERY_NAMES, load_query, load_rule, query_description

#: The cold-readings SQL lives in pipeline/sql.
COLD_READINGS_RULE = "cold_readings"
FLAT_TABLE = "weather_flat"


def service_of(resource: Resource) -> str:
    """The AWS service a resource kind belongs to (`s3-bucket` -> s3, `iot-topic-rule` -> iot, ...)."""
    return resource.kind.split("-", 1)[0]


def rule_error_action(names: StackNames, rule: str, role_arn: str) -> dict[str, Any]:
    """The rule's errorAction: a message its action could not deliver (Firehose or DynamoDB throttling, a denied
    role...) is written, with the failure, to `errors/iot-rules/<rule>/` in the lake bucket, one object each
    (https://docs.aws.amazon.com/iot/latest/developerguide/rule-error-handling.html). Without it AWS IoT drops
    such a message without a trace."""
    return {"s3": {"roleArn": role_arn, "bucketName": names.lake_bucket,
                   "key": f"{names.rule_error_prefix}{rule}/${{timestamp()}}-${{newuuid()}}.json"}}


#: What the lake and quarantine rules add to every message: its authenticated publisher and the time AWS IoT
#: received it (`timestamp()`: Unix milliseconds), so `make audit TARGET=aws` measures latency and arrival order.
RULE_FIELDS = "clientid() AS publisher, timestamp() AS received_at"


def lake_rule_sql(topic: str) -> str:
    """The Firehose rule (lab step 4): every message whose `thing_name` is its publisher's client id, with that
    id added as `publisher` and its arrival as `received_at` (RULE_FIELDS). The IoT policy lets a certificate
    connect only as its own thing's name, so `clientid()` is the authenticated thing (docs/security.md)."""
    return f"SELECT *, {RULE_FIELDS} FROM '{topic}' WHERE thing_name = clientid()"


def quarantine_rule_sql(topic: str) -> str:
    """The complement of the lake rule: messages naming another thing, or none, kept apart with their publisher."""
    return f"SELECT *, {RULE_FIELDS} FROM '{topic}' WHERE isUndefined(thing_name) OR thing_name <> clientid()"


def quarantine_key(names: StackNames) -> str:
    """S3 key template of one quarantined message (IoT substitution templates)."""
    return (f"{names.quarantine_prefix}${{topic()}}/${{parse_time('yyyy/MM/dd/HH', timestamp(), 'UTC')}}/"
            "${clientid()}-${newuuid()}.json")


class Action(StrEnum):
    """What deploy/destroy does (or would do) to a resource, or what status found."""

    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    USE = "use"              # exists, not created by this stack: used as it is
    REMOVE = "remove"        # created by this stack, no longer wanted
    CONFLICT = "conflict"    # the name is taken by something the stack did not create
    DELETE = "delete"
    KEEP = "keep"            # destroy: not created by this stack, left alone
    LEFT = "left"            # destroy: recorded under a name the settings no longer give
    ABSENT = "absent"
    FOREIGN = "foreign"      # status: exists, not recorded
    USED = "used"            # status: recorded as used, not created
    DRIFTED = "drifted"
    IN_SYNC = "in-sync"


@dataclass(frozen=True)
class Change:
    """One line of a plan or of what was done."""

    action: Action
    kind: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f"  ({self.detail})" if self.detail else ""
        return f"{self.action:<10} {self.kind:<26} {self.name}{detail}"


class PipelineStack:
    """The stack for one settings object; `clients` may be given (tests), otherwise connected from settings."""

    def __init__(self, settings: PipelineAwsSettings, clients: AwsClients | None = None, *, wait: float = 5.0,
                 role_retry_attempts: int = 12) -> None:
        self.settings = settings
        self.clients = clients or connect(settings)
        self.wait = wait
        self.role_retry_attempts = role_retry_attempts
        self.names = StackNames.build(settings, account_id=self.clients.account_id, region=self.clients.region)
        self.state = StackState.load(settings.state_file, stack=settings.stack_name,
                                     account_id=self.clients.account_id, region=self.clients.region)
        self._recovered: list[dict[str, Any]] = []

    # --- the resources, in creation order ------------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        names, clients, wait = self.names, self.clients, self.wait
        tags = names.tags(self.settings.tags)
        roles = [
            Role(clients, names, names.iot_role, trust=iot_rules_trust(names), policy=iot_rules_policy(names),
                 description="weather-fleet: IoT rules put into the lake stream and the cold-readings table",
                 tags=tags, wait=wait),
            Role(clients, names, names.firehose_role, trust=firehose_trust(names), policy=firehose_policy(names),
                 description="weather-fleet: Firehose writes the lake bucket", tags=tags, wait=wait),
            Role(clients, names, names.crawler_role, trust=crawler_trust(names), policy=crawler_policy(names),
                 description="weather-fleet: the Glue crawler reads the lake into its database", tags=tags, wait=wait),
        ]
        given = self.settings.pipeline_role_arn
        for role in roles:
            role.wanted = given is None
        iot_role, firehose_role, crawler_role = (given or names.role_arn(role.name) for role in roles)

        resources: list[Resource] = [
            Bucket(clients, names, names.lake_bucket, tags=tags, variable="PIPELINE_LAKE_BUCKET", wait=wait),
            Bucket(clients, names, names.athena_results_bucket, tags=tags,
                   variable="PIPELINE_ATHENA_RESULTS_BUCKET", wait=wait),
            *roles,
            DeliveryStream(clients, names, role_arn=firehose_role, buffer_mb=self.settings.firehose_buffer_mb,
                           buffer_seconds=self.settings.firehose_buffer_seconds, tags=tags, wait=wait),
            ColdReadingsTable(clients, names, tags=tags, wait=wait),
            TopicRule(clients, names, names.lake_rule, sql=lake_rule_sql(names.topic),
                      description=f"weather-fleet: every message of {names.topic} to the lake (Firehose), "
                                  "with its publisher",
                      actions=[{"firehose": {"roleArn": iot_role, "deliveryStreamName": names.firehose_stream,
                                             "separator": "\n"}}],
                      error_action=rule_error_action(names, names.lake_rule, iot_role), tags=tags, wait=wait),
            TopicRule(clients, names, names.quarantine_rule, sql=quarantine_rule_sql(names.topic),
                      description=f"weather-fleet: messages of {names.topic} not from the thing they name, "
                                  f"kept under {names.quarantine_prefix}",
                      actions=[{"s3": {"roleArn": iot_role, "bucketName": names.lake_bucket,
                                       "key": quarantine_key(names)}}],
                      error_action=rule_error_action(names, names.quarantine_rule, iot_role), tags=tags, wait=wait),
            TopicRule(clients, names, names.cold_readings_rule,
                      sql=load_rule(COLD_READINGS_RULE, "iot", topic=names.topic),
                      description="weather-fleet: readings below -5 degrees C to DynamoDB (lab step 5)",
                      actions=[{"dynamoDBv2": {"roleArn": iot_role,
                                               "putItem": {"tableName": names.cold_readings_table}}}],
                      error_action=rule_error_action(names, names.cold_readings_rule, iot_role), tags=tags,
                      wait=wait),
            GlueDatabase(clients, names, tags=tags, wait=wait),
            Crawler(clients, names, role_arn=crawler_role, sample_size=self.settings.crawler_sample_size,
                    tags=tags, wait=wait),
            Workgroup(clients, names, tags=tags, wait=wait),
        ]
        query_names = {"database": names.glue_database, "table": names.glue_table, "flat_table": FLAT_TABLE}
        for query in QUERY_NAMES:
            resources.append(NamedQuery(clients, names, query, sql=load_query(query, "athena", **query_names),
                                        description=query_description(query)[:1024], wait=wait))
        # Buckets and named queries recorded by an earlier deploy but no longer configured or shipped (a bucket
        # renamed with PIPELINE_*_BUCKET, a query dropped from pipeline/sql): removed on deploy and destroy.
        buckets = {names.lake_bucket, names.athena_results_bucket}
        for record in self.state.resources:
            stale: Resource | None = None
            if record["kind"] == Bucket.kind and record["name"] not in buckets:
                stale = Bucket(clients, names, record["name"], tags=tags, variable="", wait=wait)
            elif record["kind"] == NamedQuery.kind and record["name"] not in QUERY_NAMES:
                stale = NamedQuery(clients, names, record["name"], sql=None, wait=wait)
            if stale is not None:
                stale.wanted = False
                resources.append(stale)
        for resource in resources:
            resource.role_retry_attempts = self.role_retry_attempts if given is None else 1
        return resources

    # --- commands ------------------------------------------------------------------------------------------------
    def plan(self) -> list[tuple[Resource, dict[str, Any] | None, Change]]:
        """Read everything and decide what deploy would do; raises ConflictError before anything changes."""
        planned = []
        conflicts = []
        recovered: list[dict[str, Any]] = []
        for resource in self.resources():
            record = self.state.get(resource.kind, resource.name)
            if not resource.wanted:
                action = Action.REMOVE if record and record.get("created") else Action.ABSENT
                with self._refusals(resource):
                    current = resource.read(record) if action == Action.REMOVE else None
                planned.append((resource, current, Change(action, resource.kind, resource.name, "no longer used")))
                continue
            with self._refusals(resource):
                current = resource.read(record)
            if current is None and record is None and isinstance(resource, NamedQuery):
                found = resource.find_id() if self.state.owns(Workgroup.kind, self.names.athena_workgroup) else None
                if found:  # saved by a run that stopped before recording it, in the stack's own workgroup
                    record = {"kind": resource.kind, "name": resource.name, "created": True, "id": found}
                    current = resource.read(record)
                    recovered.append(record)
            if current is None:
                change = Change(Action.CREATE, resource.kind, resource.name)
            elif record is None:
                if isinstance(resource, Bucket) and self._bucket_given(resource):
                    change = Change(Action.USE, resource.kind, resource.name, "existing bucket, left as it is")
                else:
                    change = Change(Action.CONFLICT, resource.kind, resource.name)
                    conflicts.append(change)
            elif not record.get("created"):
                change = Change(Action.USE, resource.kind, resource.name, "not created by this stack, left as it is")
            else:
                drift = resource.diff(current)
                change = Change(Action.UPDATE, resource.kind, resource.name, "differs: " + ", ".join(drift)) if drift \
                    else Change(Action.UNCHANGED, resource.kind, resource.name)
            planned.append((resource, current, change))
        self._recovered = recovered
        if conflicts:
            listed = "; ".join(f"{c.kind} {c.name}" for c in conflicts)
            raise ConflictError(
                f"already exist but {self.state.path} does not record them as made by stack "
                f"{self.names.stack!r}: {listed}. Nothing was changed. Delete them, or set PIPELINE_STACK_NAME "
                "(or PIPELINE_LAKE_BUCKET / PIPELINE_ATHENA_RESULTS_BUCKET) to other names"
            )
        return planned

    def _bucket_given(self, bucket: Bucket) -> bool:
        if bucket.name == self.names.lake_bucket:
            return self.names.lake_bucket_given
        return self.names.athena_results_bucket_given

    def deploy(self, *, dry_run: bool = False) -> list[Change]:
        planned = self.plan()
        if dry_run:
            return [change for _, _, change in planned]
        done = []
        for record in self._recovered:
            self.state.record(record["kind"], record["name"], created=True, id=record["id"])
        for resource, current, change in planned:
            record = self.state.get(resource.kind, resource.name)
            if change.action == Action.CREATE:
                with self._refusals(resource), self._recorded_if_it_exists(resource):
                    details = resource.create()
                self.state.record(resource.kind, resource.name, created=True, **details)
            elif change.action == Action.UPDATE:
                assert current is not None and record is not None
                with self._refusals(resource):
                    resource.update(current, record)
            elif change.action == Action.USE and record is None:
                self.state.record(resource.kind, resource.name, created=False)
            elif change.action == Action.REMOVE:
                assert record is not None
                if current is not None:
                    with self._refusals(resource):
                        resource.delete(record)
                self.state.forget(resource.kind, resource.name)
            done.append(change)
        return done

    @contextmanager
    def _refusals(self, resource: Resource) -> Iterator[None]:
        """A denied, unrecognised or expired-credentials refusal becomes one AccessError line with the fix."""
        try:
            yield
        except ClientError as exc:
            line = explain(exc, service=service_of(resource), resource=f"{resource.kind} {resource.name}",
                           region=self.names.region, role_variable="PIPELINE_ROLE_ARN")
            if line is None:
                raise
            raise AccessError(f"{line} ({len([r for r in self.state.resources if r.get('created')])} resource(s) "
                              f"created so far are recorded in {self.state.path}; "
                              "`make pipeline-down TARGET=aws` removes them)") from exc
        except BotoCoreError as exc:  # an SSO/token login that expired mid-run, the network...
            raise AccessError(botocore_line(exc, service=service_of(resource), region=self.names.region,
                                            profile=self.settings.profile)) from exc

    @contextmanager
    def _recorded_if_it_exists(self, resource: Resource) -> Iterator[None]:
        """When a creation stops part-way (CreateBucket done, PutPublicAccessBlock refused; CreateRole done,
        PutRolePolicy refused), record what exists, so destroy removes it: it did not exist before."""
        try:
            yield
        except Exception:
            try:
                exists = resource.read(None) is not None
            except Exception:  # noqa: BLE001 - the first error is the one to report
                exists = False
            if exists:
                self.state.record(resource.kind, resource.name, created=True, partial=True)
            raise

    def status(self) -> list[Change]:
        """What exists and whether it matches, without changing anything (conflicts are reported, not raised)."""
        changes = []
        for resource in self.resources():
            record = self.state.get(resource.kind, resource.name)
            with self._refusals(resource):
                current = resource.read(record)
            if current is None:
                action = Action.ABSENT
            elif record is None:
                action = Action.FOREIGN
            elif not record.get("created"):
                action = Action.USED
            else:
                action = Action.DRIFTED if resource.diff(current) else Action.IN_SYNC
            if not resource.wanted and current is None:
                continue
            changes.append(Change(action, resource.kind, resource.name, "" if resource.wanted else "no longer used"))
        return changes

    def destroy(self, *, dry_run: bool = False) -> list[Change]:
        """Delete, newest first, what the state file says the stack created; forget what it only used."""
        done = []
        workgroup_owned = self.state.owns(Workgroup.kind, self.names.athena_workgroup)
        for resource in reversed(self.resources()):
            record = self.state.get(resource.kind, resource.name)
            if record is None:
                continue
            if not record.get("created"):
                done.append(Change(Action.KEEP, resource.kind, resource.name, "not created by this stack"))
                if not dry_run:
                    self.state.forget(resource.kind, resource.name)
                continue
            if isinstance(resource, NamedQuery) and workgroup_owned:
                done.append(Change(Action.DELETE, resource.kind, resource.name, "with its workgroup"))
                if not dry_run:
                    self.state.forget(resource.kind, resource.name)
                continue
            with self._refusals(resource):
                current = resource.read(record)
            if current is None:
                done.append(Change(Action.ABSENT, resource.kind, resource.name, "already gone"))
            else:
                done.append(Change(Action.DELETE, resource.kind, resource.name))
                if not dry_run:
                    with self._refusals(resource):
                        resource.delete(record)
            if not dry_run:
                self.state.forget(resource.kind, resource.name)
        for record in [] if dry_run else self.state.resources:
            done.append(Change(Action.LEFT, record["kind"], record["name"],
                               "recorded under a name the current settings do not give: restore the settings "
                               f"used to deploy, or delete it by hand and edit {self.state.path}"))
        return done

    def error_objects(self) -> int | None:
        """How many objects are under the lake bucket's `errors/` prefix (failed records of Firehose and of the
        rules' error action); None when the bucket does not exist."""
        try:
            pages = self.clients.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.names.lake_bucket, Prefix=self.names.error_prefix)
            return sum(page.get("KeyCount", len(page.get("Contents", []))) for page in pages)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchBucket", "404"}:
                return None
            line = explain(exc, service="s3", resource=f"s3://{self.names.lake_bucket}/{self.names.error_prefix}",
                           region=self.names.region)
            if line is None:
                raise
            raise AccessError(line) from exc

    def flatten(self, timeout: float = 600.0) -> list[str]:
        """Lab step 8 on Athena, idempotently: `drop_flat` (DROP TABLE IF EXISTS) then `flatten` (CREATE TABLE
        AS, which Athena refuses when the table exists). Returns the query execution ids."""
        athena = self.clients.athena
        query_names = {"database": self.names.glue_database, "table": self.names.glue_table,
                       "flat_table": FLAT_TABLE}
        ids = []
        for name in ("drop_flat", "flatten"):
            query_id = execute(athena, load_query(name, "athena", **query_names), self.names, timeout,
                               max(self.wait, 0.01), label=name)
            ids.append(query_id)
        return ids

    def start_crawler(self) -> str:
        """Run the crawler once (the lab's 'Run crawler'); returns its name."""
        self.clients.glue.start_crawler(Name=self.names.crawler)
        return self.names.crawler
