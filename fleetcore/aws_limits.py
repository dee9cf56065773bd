"""AWS's documented limits that the fleet meets: the one home for every number (plan-aws, cost, aws-doctor, the
station's connect pacing and the local broker's AWS emulation read them here).

Sources (defaults; adjustable ones can be raised through Service Quotas, `make aws-doctor` reads the account's):
- AWS IoT Core, https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits:
  payload 128 KB per PUBLISH (hard), 100 publishes/s per connection (hard), 1 CONNECT/s per client id (hard),
  500 CONNECT/s per account, inbound publishes per account 20,000/s in us-east-1, us-west-2 and eu-west-1 and
  2,000/s elsewhere.
- Amazon Data Firehose, direct PUT, per delivery stream, https://docs.aws.amazon.com/general/latest/gr/fh.html
  and https://docs.aws.amazon.com/firehose/latest/dev/limits.html: 2,000 requests/s and 5 MiB/s in us-east-1,
  us-west-2 and eu-west-1; 1,000 requests/s and 1 MiB/s in every other region; 500,000 records/s everywhere.
  Every IoT rule action is one PutRecord request (one record), so requests/s binds before records/s.
Invariant: a region of None means us-east-1 (the lab's region and boto3's usual default).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"
HIGH_QUOTA_REGIONS = frozenset({"us-east-1", "us-west-2", "eu-west-1"})
"""The regions where both IoT Core's inbound publish quota and Firehose's direct-PUT quotas are the larger ones."""

# --- AWS IoT Core ---------------------------------------------------------------------------------------------
IOT_PUBLISHES_PER_SECOND_PER_CONNECTION = 100
IOT_MAX_PAYLOAD_BYTES = 128 * 1024
IOT_CONNECTS_PER_SECOND_PER_ACCOUNT = 500
IOT_CONNECTS_PER_SECOND_PER_CLIENT_ID = 1
IOT_MIN_RECONNECT_SECONDS = 1.0 / IOT_CONNECTS_PER_SECOND_PER_CLIENT_ID
"""The shortest reconnect delay that keeps one client id within its 1 CONNECT per second (a hard limit)."""

# --- Amazon Data Firehose (direct PUT, per delivery stream) ---------------------------------------------------
FIREHOSE_RECORDS_PER_SECOND = 500_000


def region_or_default(region: str | None) -> str:
    return region or DEFAULT_REGION


def iot_inbound_publish_limit(region: str | None) -> int:
    """AWS IoT Core's inbound publishes per second per account in `region`."""
    return 20_000 if region_or_default(region) in HIGH_QUOTA_REGIONS else 2_000


@dataclass(frozen=True)
class FirehoseQuota:
    """One direct-PUT delivery stream's default quotas in a region."""

    region: str
    requests_per_second: int
    records_per_second: int
    bytes_per_second: int


def firehose_quota(region: str | None) -> FirehoseQuota:
    """Firehose's default direct-PUT quotas per delivery stream in `region` (see the module docstring)."""
    name = region_or_default(region)
    if name in HIGH_QUOTA_REGIONS:
        return FirehoseQuota(name, 2_000, FIREHOSE_RECORDS_PER_SECOND, 5 * 1024 * 1024)
    return FirehoseQuota(name, 1_000, FIREHOSE_RECORDS_PER_SECOND, 1 * 1024 * 1024)
