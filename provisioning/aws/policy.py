"""The least-privilege IoT policy: connect as yourself (attached thing only), publish to the fleet topic only."""

from __future__ import annotations

import json
from collections.abc import Sequence

HELLO_TOPIC = "hello/world"


def iot_arn(region: str, account: str, resource: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iot:{region}:{account}:{resource}"


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def policy_document(region: str, account: str, topics: Sequence[str]) -> dict:
    """The policy every station certificate gets.

    - `iot:Connect` only with client id = the name of the thing the certificate is attached to
      (`iot:Connection.Thing.IsAttached`), so a certificate cannot impersonate another station;
    - `iot:Publish` only to `topics` (the configured topic; `hello/world` for the lab's first-step identity).
    Nothing else: no subscribe, no receive, no wildcard resource.
    """
    if not topics:
        raise ValueError("a policy needs at least one topic")
    part = partition_for(region)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": iot_arn(region, account, "client/${iot:Connection.Thing.ThingName}", part),
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [iot_arn(region, account, f"topic/{t}", part) for t in topics],
            },
        ],
    }


def policy_json(document: dict) -> str:
    """Canonical text sent to CreatePolicy (stable across runs, so re-runs compare equal)."""
    return json.dumps(document, indent=2, sort_keys=True)
