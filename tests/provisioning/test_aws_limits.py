"""The fleet's peak message rate against AWS IoT Core's and Firehose's default limits (`make plan-aws`,
`make cost`), with the ways out."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fleetcore.aws_limits import firehose_quota
from provisioning.aws import commands
from provisioning.aws.limits import rate_plan, station_rate
from tests.provisioning.aws_fixtures import args

PRICES = {"price_per_million": 1.0, "price_per_million_minutes": 0.08}


def test_station_rate_follows_interval_speedup_and_max_rate() -> None:
    assert station_rate([None], None, speed=3600, interval=None, max_rate=100) == pytest.approx(1.0)  # hourly
    assert station_rate([None], None, speed=3600, interval=None, max_rate=0.5) == 0.5
    assert station_rate([None], None, speed=1, interval=0.25, max_rate=0) == 4.0
    assert math.isinf(station_rate([None], None, speed=1, interval=0, max_rate=0))  # nothing bounds it
    assert station_rate([None], None, speed=1, interval=0, max_rate=100) == 100


def test_small_fleet_is_within_every_limit() -> None:
    plan = rate_plan([None] * 5, None, speed=3600, interval=None, max_rate=100, region="us-east-1", **PRICES)
    assert plan.fleet_rate == pytest.approx(5.0)
    assert plan.exceeded() == []
    assert not any("WARNING" in ln for ln in plan.lines())
    assert plan.hourly_cost == pytest.approx(5 * 3600 / 1e6 + 5 * 60 / 1e6 * 0.08)


def test_ten_thousand_stations_exceed_one_firehose_stream_and_get_the_ways_out() -> None:
    plan = rate_plan([None] * 10_000, None, speed=3600, interval=None, max_rate=100, region="us-east-1", **PRICES)
    assert plan.fleet_rate == pytest.approx(10_000)
    names = [limit.name for limit, _ in plan.exceeded()]
    assert any("Firehose PutRecord requests" in n for n in names)
    assert not any("inbound publishes" in n for n in names)  # 20,000/s in us-east-1
    text = "\n".join(plan.lines())
    assert "MAX_RATE=0.2" in text  # 2,000 requests/s shared by 10,000 stations
    assert "FLEET_COUNT=2000" in text
    assert "5 Firehose delivery streams" in text
    assert "500 CONNECT/s" in text
    # elsewhere the account's inbound publish limit is 2,000/s
    paris = rate_plan([None] * 10_000, None, speed=3600, interval=None, max_rate=100, region="eu-west-3", **PRICES)
    assert any("inbound publishes" in limit.name for limit, _ in paris.exceeded())


def test_unthrottled_station_exceeds_the_per_connection_limit() -> None:
    plan = rate_plan([None], None, speed=1, interval=0, max_rate=0, region=None, **PRICES)
    assert any("per connection" in limit.name for limit, _ in plan.exceeded())
    assert "MAX_RATE=100" in "\n".join(plan.lines())


@pytest.mark.parametrize("command", ["plan", "cost"])
def test_plan_and_cost_print_the_rate_and_warn(command, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("SPEEDUP", "INTERVAL", "MAX_RATE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MAX_RATE", "0")
    monkeypatch.setenv("INTERVAL", "0.1")  # 10 msg/s per station
    run = getattr(commands, command)
    assert run(args(command, "--count", "300", "--fleet-dir", str(tmp_path / "fleet"))) == 0
    out = capsys.readouterr().out
    assert "peak message rate: 3,000.0 msg/s (300 station(s) x 10.00 msg/s" in out
    assert "WARNING: 3,000.0 exceeds Firehose PutRecord requests per delivery stream (us-east-1): 2,000" in out
    assert "MAX_RATE=6.66" in out and "FLEET_COUNT=200" in out
    assert "cost per hour:" in out


def test_firehose_quotas_depend_on_the_region() -> None:
    """https://docs.aws.amazon.com/general/latest/gr/fh.html: 2,000 requests/s and 5 MiB/s in us-east-1,
    us-west-2 and eu-west-1, 1,000 requests/s and 1 MiB/s elsewhere, 500,000 records/s everywhere."""
    for region in ("us-east-1", "us-west-2", "eu-west-1", None):
        quota = firehose_quota(region)
        assert (quota.requests_per_second, quota.bytes_per_second, quota.records_per_second) == (
            2_000, 5 * 1024 * 1024, 500_000)
    for region in ("eu-west-3", "ap-southeast-2", "us-east-2"):
        quota = firehose_quota(region)
        assert (quota.requests_per_second, quota.bytes_per_second, quota.records_per_second) == (
            1_000, 1024 * 1024, 500_000)


def test_a_fleet_within_us_east_1_exceeds_firehose_in_a_smaller_region() -> None:
    plan = {region: rate_plan([None] * 1_500, None, speed=3600, interval=None, max_rate=100, region=region,
                              **PRICES) for region in ("us-east-1", "eu-central-1")}
    assert plan["us-east-1"].exceeded() == []
    exceeded = {limit.name: limit.per_second for limit, _ in plan["eu-central-1"].exceeded()}
    assert exceeded == {"Firehose PutRecord requests per delivery stream (eu-central-1)": 1_000,
                        "Firehose bytes per delivery stream (eu-central-1)": 1024}
    text = "\n".join(plan["eu-central-1"].lines())
    assert "MAX_RATE=0.66" in text and "FLEET_COUNT=1000" in text and "2 Firehose delivery streams" in text


def test_the_limits_have_one_home() -> None:
    """plan-aws, cost, aws-doctor and the group's connect pacing read fleetcore.aws_limits (no second copy)."""
    from fleetcore import aws_limits
    from provisioning.aws import doctor, limits
    from station.group import settings as group_settings

    assert group_settings.AWS_CONNECTS_PER_SECOND is aws_limits.IOT_CONNECTS_PER_SECOND_PER_ACCOUNT
    assert doctor.IOT_QUOTAS["connect requests per second per account"] == 500
    assert not hasattr(limits, "FIREHOSE_REQUESTS_PER_SECOND") and not hasattr(limits, "IOT_CONNECTS_PER_SECOND")
