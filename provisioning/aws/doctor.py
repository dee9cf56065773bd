"""`make aws-doctor`: read-only checks of everything a first AWS run needs, before anything is created.

Each check makes read-only calls only (Get*, Describe*, List*, Head*, Simulate*) and prints one line: OK, WARN
(will probably work, or cannot be checked) or FAIL (`make register TARGET=aws` / `make pipeline TARGET=aws` would
fail) with the fix. Checked: region, credentials (sts:GetCallerIdentity), the iot:Data-ATS endpoint, names the
fleet would take (policy, things), the role for the pipeline (PIPELINE_ROLE_ARN exists, or IAM roles may be
created), the bulk bucket and role when IOT_REGISTRATION_MODE=bulk, and the quotas the fleet's message rate
meets (Service Quotas where the account answers, else AWS's documented defaults).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from fleetcore.aws_errors import botocore_line, explain, head_forbidden, refusal
from fleetcore.aws_limits import IOT_CONNECTS_PER_SECOND_PER_ACCOUNT, firehose_quota, iot_inbound_publish_limit
from provisioning.aws.assign import planned_things
from provisioning.aws.limits import rate_plan
from provisioning.aws.settings import AwsSettings, RegistrationMode

ACADEMY_REGIONS = {"us-east-1", "us-west-2"}  # AWS Academy learner labs
# Service Quotas names (lower case) of the IoT quotas a fleet's rate meets, and AWS's documented defaults.
IOT_QUOTAS = {"connect requests per second per account": IOT_CONNECTS_PER_SECOND_PER_ACCOUNT,
              "inbound publish requests per second per account": None}  # None: region-dependent default


class Status(enum.Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    status: Status
    what: str
    detail: str

    def __str__(self) -> str:
        return f"  {self.status.value:<5} {self.what}: {self.detail}"


@dataclass
class Doctor:
    """Runs the checks with clients from one boto3 session (tests pass their own session)."""

    settings: AwsSettings
    count: int
    prefix: str
    data_dir: Path | None
    session: Any = None

    def __post_init__(self) -> None:
        self.session = self.session or boto3.Session(profile_name=self.settings.profile,
                                                     region_name=self.settings.region)
        self.region: str | None = self.session.region_name
        self.account: str | None = None
        self.caller_arn: str | None = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # a check answers quickly: two attempts, not registration's patient adaptive retries
            kwargs: dict[str, Any] = {"region_name": self.region,
                                      "config": Config(retries={"mode": "standard", "max_attempts": 2})}
            if self.settings.endpoint_url:
                kwargs["endpoint_url"] = self.settings.endpoint_url
            self._clients[service] = self.session.client(service, **kwargs)
        return self._clients[service]

    def _call(self, service: str, what: str, call: Callable[[], Any], resource: str | None = None,
              ) -> tuple[Any, Check | None]:
        """(result, None), or (None, the FAIL/WARN line) when AWS refuses or cannot be reached."""
        try:
            return call(), None
        except ClientError as exc:
            line = explain(exc, service=service, resource=resource, region=self.region,
                           role_variable="PIPELINE_ROLE_ARN")
            return None, Check(Status.FAIL, what, line or f"{exc}")
        except BotoCoreError as exc:
            return None, Check(Status.FAIL, what, botocore_line(exc, service=service, region=self.region,
                                                                profile=self.settings.profile))

    # --- the checks ----------------------------------------------------------------------------------------------
    def check_region(self) -> Check:
        if not self.region:
            return Check(Status.FAIL, "region", "none set: set AWS_REGION=us-east-1 (AWS Academy) in .env")
        if self.region not in ACADEMY_REGIONS:
            return Check(Status.WARN, "region", f"{self.region}: AWS Academy learner labs allow only "
                         f"{' and '.join(sorted(ACADEMY_REGIONS))}; fine for a regular account")
        return Check(Status.OK, "region", self.region)

    def check_credentials(self) -> Check:
        if self.session.get_credentials() is None:
            return Check(Status.FAIL, "credentials", "none found: set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and "
                         "AWS_SESSION_TOKEN (AWS Academy: 'AWS Details' on the lab page) in .env")
        who, problem = self._call("sts", "credentials", lambda: self.client("sts").get_caller_identity(),
                                  "the caller identity")
        if problem:
            return problem
        self.account, self.caller_arn = who["Account"], who["Arn"]
        return Check(Status.OK, "credentials", f"account {self.account} as {self.caller_arn}")

    def check_endpoint(self) -> Check:
        found, problem = self._call("iot", "IoT endpoint", lambda: self.client("iot").describe_endpoint(
            endpointType="iot:Data-ATS"), "iot:Data-ATS endpoint")
        if problem:
            return problem
        return Check(Status.OK, "IoT endpoint", f"{found['endpointAddress']} (stations connect here on 8883 or 443)")

    def check_names(self) -> Check:
        """Names register would take: the policy and the things (it refuses ones it does not own)."""
        iot = self.client("iot")
        try:
            iot.get_policy(policyName=self.settings.policy_name)
            return Check(Status.WARN, "fleet names", f"IoT policy {self.settings.policy_name} exists: register refuses "
                         "it unless this fleet's manifest records it; set IOT_POLICY_NAME to another name otherwise")
        except ClientError as exc:
            if refusal(exc):
                return Check(Status.FAIL, "fleet names", explain(exc, service="iot", region=self.region) or str(exc))
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        wanted = {f"{self.prefix}-{i}" for i in range(1, self.count + 1)}
        taken: set[str] = set()
        for page in iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 250}):
            taken |= {t["thingName"] for t in page.get("things", [])} & wanted
        if taken:
            return Check(Status.WARN, "fleet names", f"{len(taken)} of the {self.count} thing names exist already "
                         f"(e.g. {sorted(taken)[0]}): fine if this fleet's manifest records them, else --prefix")
        return Check(Status.OK, "fleet names", f"policy {self.settings.policy_name} and {self.count} thing name(s) "
                     f"{self.prefix}-1.. are free")

    def _role(self, arn: str, variable: str) -> Check:
        name = arn.rsplit("/", 1)[-1]
        role, problem = self._call("iam", variable, lambda: self.client("iam").get_role(RoleName=name), arn)
        if problem:
            if problem.detail.startswith("AWS denied"):  # GetRole denied: cannot tell, not a failure
                return Check(Status.WARN, variable, f"{arn}: cannot read it (iam:GetRole denied); check it in the "
                             "IAM console")
            return Check(Status.FAIL, variable, f"{arn}: {problem.detail}; copy the ARN from IAM > Roles")
        if self.account and f"::{self.account}:" not in role["Role"]["Arn"]:
            return Check(Status.FAIL, variable, f"{arn} is not in account {self.account}")
        return Check(Status.OK, variable, f"{role['Role']['Arn']} exists")

    def check_pipeline_role(self) -> Check:
        if self.settings.pipeline_role_arn:
            return self._role(self.settings.pipeline_role_arn, "PIPELINE_ROLE_ARN")
        caller = self.caller_arn or ""
        if ":assumed-role/" in caller:  # arn:aws:sts::<acct>:assumed-role/<role>/<session> -> the role's ARN
            partition_account = caller.split(":assumed-role/")[0].replace(":sts:", ":iam:")
            caller = f"{partition_account}:role/{caller.split(':assumed-role/')[1].split('/')[0]}"
        try:
            results = self.client("iam").simulate_principal_policy(
                PolicySourceArn=caller, ActionNames=["iam:CreateRole", "iam:PutRolePolicy"])["EvaluationResults"]
        except (ClientError, BotoCoreError, ResponseParserError):  # denied, or not answered (emulators)
            return Check(Status.WARN, "PIPELINE_ROLE_ARN", "unset, so `make pipeline TARGET=aws` creates 3 IAM roles; "
                         "cannot check whether these credentials may (AWS Academy may not: then set "
                         "PIPELINE_ROLE_ARN=<LabRole ARN>)")
        denied = [r["EvalActionName"] for r in results if r["EvalDecision"] != "allowed"]
        if denied:
            return Check(Status.FAIL, "PIPELINE_ROLE_ARN", f"unset, and {', '.join(denied)} is denied to {caller}: "
                         "set PIPELINE_ROLE_ARN=<LabRole ARN> (IAM > Roles > LabRole)")
        return Check(Status.OK, "PIPELINE_ROLE_ARN", "unset: the pipeline creates its own least-privilege roles")

    def check_bulk(self) -> list[Check]:
        s = self.settings
        if s.registration_mode != RegistrationMode.BULK:
            return []
        if not s.bulk_bucket or not s.bulk_role_arn:
            return [Check(Status.FAIL, "bulk registration", "IOT_REGISTRATION_MODE=bulk needs IOT_BULK_BUCKET and "
                          "IOT_BULK_ROLE_ARN (the lab's bucket and LabRole ARN) in .env")]
        _, problem = self._call("s3", "IOT_BULK_BUCKET", lambda: self.client("s3").head_bucket(Bucket=s.bulk_bucket),
                                f"s3://{s.bulk_bucket}")
        if problem and problem.detail.startswith("An error occurred (403)"):  # a HEAD answer has no body
            problem = Check(Status.FAIL, "IOT_BULK_BUCKET", head_forbidden(s.bulk_bucket, variable="IOT_BULK_BUCKET"))
        bucket = problem or Check(Status.OK, "IOT_BULK_BUCKET", f"s3://{s.bulk_bucket} is reachable")
        return [bucket, self._role(s.bulk_role_arn, "IOT_BULK_ROLE_ARN")]

    def quotas(self) -> tuple[dict[str, float], str]:
        """The IoT quotas that matter here ({name: value}) and where they come from."""
        values: dict[str, float] = {}
        source = "AWS's documented defaults (Service Quotas did not answer)"
        try:
            sq = self.client("service-quotas")
            for page in sq.get_paginator("list_service_quotas").paginate(ServiceCode="iot"):
                for quota in page.get("Quotas", []):
                    name = quota.get("QuotaName", "").lower()
                    if name in IOT_QUOTAS and quota.get("Value") is not None:
                        values[name] = float(quota["Value"])
            if values:
                source = "Service Quotas (this account)"
        except (ClientError, BotoCoreError, ResponseParserError):  # denied, or not answered (emulators)
            pass
        for name, default in IOT_QUOTAS.items():
            values.setdefault(name, float(default if default is not None else iot_inbound_publish_limit(self.region)))
        return values, source

    def check_quotas(self) -> list[Check]:
        s = self.settings
        files = [p.isd_file for p in planned_things(self.count, self.prefix, self.data_dir)]
        plan = rate_plan(files, self.data_dir, speed=s.replay_speed, interval=s.interval, max_rate=s.max_rate,
                         region=self.region, price_per_million=s.price_per_million_messages,
                         price_per_million_minutes=s.price_per_million_connection_minutes)
        values, source = self.quotas()
        inbound = values["inbound publish requests per second per account"]
        connects = values["connect requests per second per account"]
        rate = plan.fleet_rate
        firehose = firehose_quota(self.region)
        out = [Check(Status.OK, "quotas", f"from {source}: {inbound:,.0f} inbound publishes/s, {connects:,.0f} "
                     f"connects/s per account; Firehose {firehose.requests_per_second:,} requests/s per stream "
                     f"in {firehose.region} (documented default)")]
        shown = f"{rate:,.1f} msg/s" if rate != float("inf") else "an unbounded rate"
        if rate > min(inbound, firehose.requests_per_second):
            out.append(Check(Status.WARN, "message rate", f"{self.count} station(s) at {shown} exceed "
                             f"{'the account inbound publish quota' if rate > inbound else 'one Firehose stream'}: "
                             "see `make cost` for the ways out (MAX_RATE, fewer stations, more streams)"))
        else:
            out.append(Check(Status.OK, "message rate", f"{self.count} station(s) at {shown}: within the quotas"))
        if self.count > connects:
            out.append(Check(Status.WARN, "connects", f"{self.count} stations connecting at once exceed "
                             f"{connects:,.0f} connects/s: stagger them"))
        return out

    def run(self) -> list[Check]:
        checks = [self.check_region(), self.check_credentials()]
        if any(c.status is Status.FAIL for c in checks):
            return checks  # nothing else can be asked without a region and credentials
        checks.append(self.check_endpoint())
        if checks[-1].status is not Status.FAIL:
            checks.append(self.check_names())
        checks.append(self.check_pipeline_role())
        checks.extend(self.check_bulk())
        checks.extend(self.check_quotas())
        return checks


def doctor(settings: AwsSettings, *, count: int, prefix: str, data_dir: Path | None, session: Any = None,
           print_=print) -> int:
    """Print every check; 1 when something would fail, else 0."""
    checks = Doctor(settings, count, prefix, data_dir, session).run()
    print_(f"aws-doctor: {count} station(s) '{prefix}-N', read-only checks (nothing is created):")
    for check in checks:
        print_(str(check))
    failed = [c for c in checks if c.status is Status.FAIL]
    print_(f"{len(failed)} problem(s) would stop the run: fix them first" if failed
           else "nothing found that would stop `make register TARGET=aws` or `make pipeline TARGET=aws`")
    return 1 if failed else 0
